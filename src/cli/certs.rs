//! `triage certs`: writes the local CA and localhost certificate.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::error::Error;

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory to write into.
    #[arg(long, default_value = "certs", env = "TRIAGE_CERTS_DIR")]
    pub dir: PathBuf,
    /// Replace an existing CA.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: CertsArgs) -> Result<ExitCode, Error> {
    let p = crate::certs::generate(&args.dir, args.force)?;
    super::output::print(format_args!(
        "wrote {}  (the CA: trust this one; certs/README.md in the triage repository says how, per OS and SDK)\n\
         wrote {}  (CA private key: keep it private)\n\
         wrote {}  (server certificate for localhost, 127.0.0.1, ::1)\n\
         wrote {}  (server private key)\n\
         \n\
         serve https with: triage proxy --tls --tls-cert {} --tls-key {}\n",
        p.ca_cert.display(),
        p.ca_key.display(),
        p.cert.display(),
        p.key.display(),
        p.cert.display(),
        p.key.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
