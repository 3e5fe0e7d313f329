//! [`Outputs`]: where a run's results go. The summary goes to stdout (a
//! table, or JSON); the files the command line names (`--csv`, `--plot`,
//! `--profile-out`) are created before the first frame, so a path that
//! cannot be written is refused (exit code 2) before a long run rather than
//! after it. One function, [`file_error`], turns every file error into the
//! message that names the flag and the path.
//!
//! Notes after the summary (where the profile and the plot went) go to
//! stdout with the table, and to stderr with `--json` (stdout stays pure
//! JSON) unless `--quiet`.

use std::io;
use std::path::{Path, PathBuf};

use framemem_lab::profile::{Profiled, Recording};
use framemem_lab::report::{FrameCsv, FramePlot, Json, Output, Report, Table};
use framemem_lab::sim::{FrameRecord, Strategy};

use super::config::RunConfig;
use super::usage::usage;

/// What a file operation was doing when it failed.
#[derive(Clone, Copy, Debug)]
enum FileOp {
    Create,
    Write,
}

/// The one mapping from a file's error to the binary's: a file that cannot
/// be created is bad input (exit code 2), one that cannot be written is a
/// failure of the run (exit code 1).
fn file_error(flag: &str, path: &Path, op: FileOp, e: &io::Error) -> anyhow::Error {
    let path = path.display();
    match op {
        FileOp::Create => usage(format!("cannot create {flag} file `{path}`: {e}")),
        FileOp::Write => anyhow::anyhow!("cannot write {flag} file `{path}`: {e}"),
    }
}

/// A file the command line named, and the format written to it.
struct OutputFile {
    flag: &'static str,
    path: PathBuf,
    output: Box<dyn Output>,
    /// What to say once it is written, before the path.
    written: Option<&'static str>,
}

impl OutputFile {
    fn create<O: Output + 'static>(
        flag: &'static str,
        path: &Path,
        create: impl FnOnce(&Path) -> io::Result<O>,
        written: Option<&'static str>,
    ) -> anyhow::Result<OutputFile> {
        let output = create(path).map_err(|e| file_error(flag, path, FileOp::Create, &e))?;
        Ok(OutputFile {
            flag,
            path: path.to_owned(),
            output: Box::new(output),
            written,
        })
    }
}

/// Prints notes where the run's format wants them (see the module docs).
#[derive(Clone, Copy, Debug)]
struct Notes {
    json: bool,
    quiet: bool,
}

impl Notes {
    fn say(self, line: &str) {
        if !self.json {
            println!("{line}");
        } else if !self.quiet {
            eprintln!("{line}");
        }
    }
}

/// The run's outputs: the summary on stdout and the named files.
pub struct Outputs {
    summary: Box<dyn Output>,
    files: Vec<OutputFile>,
    /// `--profile-out`'s path: the recording itself belongs to the
    /// profiling, which writes it.
    recording: Option<PathBuf>,
    notes: Notes,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files: Vec<&Path> = self.files.iter().map(|o| o.path.as_path()).collect();
        f.debug_struct("Outputs")
            .field("files", &files)
            .field("recording", &self.recording)
            .finish_non_exhaustive()
    }
}

impl Outputs {
    /// Creates every file `config` names; returns the outputs and the
    /// profile recording (for [`RunConfig::start_profiling`]).
    ///
    /// # Errors
    ///
    /// A usage error naming the flag and the file when one cannot be
    /// created.
    pub fn create(config: &RunConfig) -> anyhow::Result<(Outputs, Option<Recording>)> {
        let mut files = Vec::new();
        if let Some(path) = &config.csv {
            files.push(OutputFile::create("--csv", path, FrameCsv::create, None)?);
        }
        if let Some(path) = &config.plot {
            let note = Some("plot: frame times and memory drawn in");
            files.push(OutputFile::create("--plot", path, FramePlot::create, note)?);
        }
        let recording = match &config.profile_out {
            Some(path) => Some(
                Recording::create(path)
                    .map_err(|e| file_error("--profile-out", path, FileOp::Create, &e))?,
            ),
            None => None,
        };
        let summary: Box<dyn Output> = if config.json {
            Box::new(Json::new(io::stdout(), config.compare))
        } else {
            Box::new(Table::new(io::stdout()))
        };
        let outputs = Outputs {
            summary,
            files,
            recording: config.profile_out.clone(),
            notes: Notes {
                json: config.json,
                quiet: config.quiet,
            },
        };
        Ok((outputs, recording))
    }

    /// Hands one measured frame to every file.
    ///
    /// # Errors
    ///
    /// When a file cannot be written; the run stops.
    pub fn frame(&mut self, alloc: Strategy, record: &FrameRecord) -> anyhow::Result<()> {
        for file in &mut self.files {
            file.output
                .frame(alloc, record)
                .map_err(|e| file_error(file.flag, &file.path, FileOp::Write, &e))?;
        }
        Ok(())
    }

    /// Writes the summary, then every file, then the notes on where the
    /// profile and the files went. Writes all it can before failing.
    ///
    /// # Errors
    ///
    /// The first file that could not be written, the profile recording
    /// first.
    pub fn finish(mut self, report: &Report, profiled: Profiled) -> anyhow::Result<()> {
        self.summary
            .finish(report)
            .map_err(|e| anyhow::anyhow!("cannot write the summary: {e}"))?;
        let mut failed = None;
        if let Some(addr) = profiled.streamed_from {
            self.notes.say(&format!(
                "profile: streamed on {addr}; watch a run live with `puffin_viewer --url {addr}`"
            ));
        }
        match (profiled.recorded, &self.recording) {
            (Some(Ok(recorded)), _) => self.notes.say(&format!(
                "profile: {} frames written to {}; open with `puffin_viewer {}`",
                recorded.frames,
                recorded.path.display(),
                recorded.path.display()
            )),
            (Some(Err(e)), Some(path)) => {
                failed = Some(file_error("--profile-out", path, FileOp::Write, &e));
            }
            _ => {}
        }
        if profiled.scopes_on {
            self.notes.say(
                "profile: the heap counts include puffin's bookkeeping (a dozen or so allocations \
                 a frame, more while a viewer is connected); --no-profile leaves it out",
            );
        }
        for file in &mut self.files {
            match file.output.finish(report) {
                Ok(()) => {
                    if let Some(note) = file.written {
                        self.notes.say(&format!("{note} {}", file.path.display()));
                    }
                }
                Err(e) => {
                    failed.get_or_insert(file_error(file.flag, &file.path, FileOp::Write, &e));
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}
