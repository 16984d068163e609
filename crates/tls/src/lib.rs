//! rota-tls: TLS for the hub and its clients (rustls, with the `ring` provider):
//! reading PEM certificates and keys, the hub's server config for wss://,
//! and the clients' config checking the hub's certificate against the
//! system's roots or a CA file. Errors name the file and what is wrong.
//! Knows nothing of rota's protocol.
//!
//! Depends on no other rota crate; the hub and the client use it.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in a PEM file, in order (a chain: the hub's first).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {}", path.display(), pem_error(e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {}", path.display(), pem_error(e)))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in it (expected PEM, `-----BEGIN CERTIFICATE-----`)",
            path.display()
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "{}: no private key in it (expected PEM, `-----BEGIN PRIVATE KEY-----` or an RSA or EC key)",
            path.display()
        ),
        e => format!("{}: {}", path.display(), pem_error(e)),
    })
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(e) => format!("cannot read it: {e}"),
        e => format!("not a PEM file rota can read ({e:?})"),
    }
}

/// The hub's TLS config from a certificate chain and its key (PEM files).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs = read_certs(cert)?;
    let key_path = key;
    let key = read_key(key_path)?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "{} and {}: {e} (does the key belong to the certificate?)",
                cert.display(),
                key_path.display()
            )
        })?;
    Ok(Arc::new(config))
}

/// A client's TLS config: the hub's certificate must chain to `ca`'s
/// certificates when given, else to the system's roots.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in read_certs(path)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: not a CA certificate: {e}", path.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            // Unreadable system certificates are skipped, as browsers do.
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(
                    "no system root certificates found: pass the hub's CA with --ca FILE".into(),
                );
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("cert.pem");
        std::fs::write(&text, "hello\n").unwrap();
        let e = read_certs(&text).unwrap_err();
        assert!(
            e.contains("cert.pem") && e.contains("no certificate"),
            "{e}"
        );
        let missing = dir.path().join("nope.pem");
        let e = server_config(&missing, &missing).unwrap_err();
        assert!(e.contains("nope.pem") && e.contains("cannot read"), "{e}");
        let e = client_config(Some(&text)).unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join("a.pem");
        let key = dir.path().join("b.key");
        std::fs::write(&cert, a.cert.pem()).unwrap();
        std::fs::write(&key, b.signing_key.serialize_pem()).unwrap();
        let e = server_config(&cert, &key).unwrap_err();
        assert!(e.contains("does the key belong"), "{e}");
        std::fs::write(&key, a.signing_key.serialize_pem()).unwrap();
        assert!(server_config(&cert, &key).is_ok());
        assert!(client_config(Some(&cert)).is_ok());
    }
}
