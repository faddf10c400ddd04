//! `triage certs`: a local certificate authority and a `localhost`/`127.0.0.1` server
//! certificate signed by it, for clients that insist on https. The CA key never leaves the
//! directory it is written to; the generated files are ignored by git.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

use crate::error::Error;

/// Paths of the files `triage certs` writes into a directory.
#[derive(Debug, Clone)]
pub struct CertPaths {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertPaths {
    pub fn in_dir(dir: &Path) -> Self {
        CertPaths {
            ca_cert: dir.join("triage-ca.pem"),
            ca_key: dir.join("triage-ca.key"),
            cert: dir.join("localhost.pem"),
            key: dir.join("localhost.key"),
        }
    }
}

fn err(e: impl std::fmt::Display) -> Error {
    Error::Certs(e.to_string())
}

/// Writes a new CA and a localhost certificate into `dir`; refuses to overwrite unless `force`.
pub fn generate(dir: &Path, force: bool) -> Result<CertPaths, Error> {
    let paths = CertPaths::in_dir(dir);
    if !force && paths.ca_cert.exists() {
        return Err(Error::Config(format!(
            "{} exists already; pass --force to replace it (clients that trust the old CA will then need the new one)",
            paths.ca_cert.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;

    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "triage local CA");
    dn.push(DnType::OrganizationName, "triage (local development only)");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = rcgen::date_time_ymd(2024, 1, 1);
    ca.not_after = rcgen::date_time_ymd(2035, 1, 1);
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(err)?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).map_err(err)?;
    leaf.subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    leaf.subject_alt_names
        .push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    leaf.distinguished_name = dn;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = rcgen::date_time_ymd(2024, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(2027, 12, 31);
    let cert = leaf.signed_by(&key, &issuer).map_err(err)?;

    write(&paths.ca_cert, ca_cert.pem().as_bytes(), false)?;
    write(&paths.ca_key, issuer.key().serialize_pem().as_bytes(), true)?;
    write(&paths.cert, cert.pem().as_bytes(), false)?;
    write(&paths.key, key.serialize_pem().as_bytes(), true)?;
    Ok(paths)
}

fn write(path: &Path, data: &[u8], private: bool) -> Result<(), Error> {
    std::fs::write(path, data).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| Error::Write {
                path: path.to_owned(),
                source,
            },
        )?;
    }
    let _ = private;
    Ok(())
}
