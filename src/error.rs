//! Library error types. Every failure says whose it is — the client's, the upstream's, or
//! triage's own — because a user's first question is "is it me, the API, or the tool?".

use std::path::PathBuf;

/// Who caused a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    Client,
    Upstream,
    Triage,
}

/// Errors of configuration and start-up, surfaced by the CLI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    /// `suggestion` is `did you mean X? ` for a near miss, else empty.
    #[error("unknown region {name:?}; {suggestion}valid regions are: {valid}")]
    UnknownRegion {
        name: String,
        suggestion: String,
        valid: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The output of a command names its input under another name (a hard link, a symlink,
    /// standard input redirected from it); writing would destroy the input.
    #[error("the output {} and the input {input} are the same file; write to another file", output.display())]
    SameFile { input: String, output: PathBuf },
    #[error("cannot listen on {addr}: {source}{}", listen_hint(.source))]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    #[error("certificate generation failed: {0}")]
    Certs(String),
    #[error("{0}")]
    Rules(String),
    #[error("{0}")]
    Input(String),
    /// A simulator scenario file that does not parse or refers to something it does not define.
    #[error("{file}:{line}:{column}: {message}")]
    Scenario {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether this is a write to a reader that went away (`triage … | head`): it took what it
    /// wanted, so the command ends quietly with the status it would have had, as `explain`
    /// does, not with an error.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Write { source, .. } | Error::Io(source) => {
                source.kind() == std::io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }

    pub fn blame(&self) -> Blame {
        match self {
            Error::Input(_) => Blame::Client,
            _ => Blame::Triage,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to do about the common reasons a listen fails.
fn listen_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another program, perhaps another triage, listens there: stop it or choose another port with --listen 127.0.0.1:PORT)"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            " (no interface of this machine has that address: use 127.0.0.1 or one of its own addresses)"
        }
        std::io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need privileges: choose a port of 1024 or above)"
        }
        _ => "",
    }
}
