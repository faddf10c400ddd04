//! The output file of a command that reads an input and writes something made of it (`redact`,
//! `export --har`, `explain -o`). Writing over the input would destroy it: the output used to be
//! truncated before the input was read, and the same file can hide behind another name (a hard
//! link, a symlink, standard input redirected from it).

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, StdoutLock, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::ingest::STDIN;

/// Refuses an output that is the input file under any name. `-` as the input is standard
/// input, as the output standard output. An output that does not exist yet cannot be the input.
pub(crate) fn refuse_same_file(input: &Path, output: &Path) -> Result<(), Error> {
    if output.as_os_str() == STDIN || !same_file(input, output) {
        return Ok(());
    }
    let input = if input.as_os_str() == STDIN {
        "(standard input)".to_owned()
    } else {
        input.display().to_string()
    };
    Err(Error::SameFile {
        input,
        output: output.to_path_buf(),
    })
}

fn same_file(input: &Path, output: &Path) -> bool {
    let Ok(out) = fs::metadata(output) else {
        return false;
    };
    let inp = if input.as_os_str() == STDIN {
        stdin_metadata()
    } else {
        fs::metadata(input).ok()
    };
    match inp {
        Some(inp) => same_identity(input, &inp, output, &out),
        None => false,
    }
}

#[cfg(unix)]
fn stdin_metadata() -> Option<Metadata> {
    use std::os::fd::AsFd;
    // A duplicate of the descriptor: closing it leaves standard input open.
    let fd = io::stdin().as_fd().try_clone_to_owned().ok()?;
    File::from(fd).metadata().ok()
}

#[cfg(not(unix))]
fn stdin_metadata() -> Option<Metadata> {
    None
}

#[cfg(unix)]
fn same_identity(_: &Path, a: &Metadata, _: &Path, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

// Without inode numbers, resolved paths are the best available: they see symlinks, not hard
// links, which the write through a temporary file below still keeps from harm.
#[cfg(not(unix))]
fn same_identity(a: &Path, _: &Metadata, b: &Path, _: &Metadata) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Writes to standard output for a command that prints (`rules`, `ops`, `certs`), as an error
/// rather than `print!`'s panic when it cannot; see [`Error::is_broken_pipe`] for a reader that
/// went away (`triage rules list | head`), which is no failure of the command.
pub(crate) fn print(args: std::fmt::Arguments<'_>) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.flush())
        .map_err(|source| Error::Write {
            path: PathBuf::from(STDIN),
            source,
        })
}

/// Where a command writes: standard output, or a file.
///
/// A regular file is written under a temporary name in its directory and renamed over the
/// destination by [`Output::commit`]: the destination is not touched until the input has been
/// read whole, and a run that fails midway (dropping the `Output` uncommitted) leaves an
/// existing file as it was. Anything else (`/dev/null`, a FIFO) is written in place, since it
/// cannot be replaced by a rename.
pub(crate) enum Output {
    Stdout(StdoutLock<'static>),
    Direct(File),
    Staged(Staged),
}

pub(crate) struct Staged {
    file: File,
    tmp: TempPath,
    dest: PathBuf,
}

/// A temporary file's path, removed on drop unless kept.
struct TempPath(Option<PathBuf>);

impl Output {
    /// `-` is standard output.
    pub(crate) fn create(path: &Path) -> io::Result<Output> {
        if path.as_os_str() == STDIN {
            return Ok(Output::Stdout(io::stdout().lock()));
        }
        // Through a symlink, the file it points to is replaced, not the link.
        let dest = match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(path) {
                Ok(target) => target,
                // A dangling link: let creating through it say what it says.
                Err(_) => return File::create(path).map(Output::Direct),
            },
            _ => path.to_path_buf(),
        };
        let existing = match fs::metadata(&dest) {
            Ok(m) if !m.is_file() => return File::create(&dest).map(Output::Direct),
            Ok(m) => {
                // A file we may not write is refused now, as opening it would have been,
                // rather than replaced by the rename. No truncation: it is still intact.
                OpenOptions::new().write(true).open(&dest)?;
                Some(m)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let (file, tmp) = create_temp(&dest)?;
        let tmp = TempPath(Some(tmp));
        if let (Some(m), Some(p)) = (existing, &tmp.0) {
            // The replacement keeps who may read it: a redacted HAR may have been made private.
            fs::set_permissions(p, m.permissions())?;
        }
        Ok(Output::Staged(Staged { file, tmp, dest }))
    }

    /// Flushes, and puts a staged file in place of the destination.
    pub(crate) fn commit(self) -> io::Result<()> {
        match self {
            Output::Stdout(mut s) => s.flush(),
            Output::Direct(mut f) => f.flush(),
            Output::Staged(Staged {
                mut file,
                mut tmp,
                dest,
            }) => {
                file.flush()?;
                // Closed first: Windows does not rename a file that is open.
                drop(file);
                if let Some(p) = &tmp.0 {
                    fs::rename(p, &dest)?;
                }
                tmp.0 = None;
                Ok(())
            }
        }
    }
}

/// A new file beside `dest`, so the rename stays within one file system.
fn create_temp(dest: &Path) -> io::Result<(File, PathBuf)> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let pid = std::process::id();
    let mut n = 0u32;
    loop {
        let tmp = dir.join(format!(".{name}.triage-{pid}-{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            // Left behind by an earlier run that was killed with the same process id.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(s) => s.write(buf),
            Output::Direct(f) => f.write(buf),
            Output::Staged(s) => s.file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.write_all(buf),
            Output::Direct(f) => f.write_all(buf),
            Output::Staged(s) => s.file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::Direct(f) => f.flush(),
            Output::Staged(s) => s.file.flush(),
        }
    }
}
