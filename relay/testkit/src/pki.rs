//! Certificates and nkeys made by the tests themselves: a CA of their own with a server and a
//! client certificate, a stranger CA with a client certificate of its own, and nkey users.

use crate::config_path;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A fresh self-signed CA, in a temporary directory removed when dropped, with the PEM files
/// a TLS test needs: the CA, a server certificate for `127.0.0.1` and `localhost`, a client
/// certificate, and a second CA (a stranger) with a client certificate of its own.
///
/// # Panics
///
/// [`Pki::new`] panics if a key cannot be made or a file cannot be written.
///
/// # Examples
///
/// ```
/// let pki = eventfold_relay_testkit::Pki::new();
/// assert!(std::fs::read_to_string(&pki.ca).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
/// assert!(pki.server_config(true).contains("verify: true"));
/// ```
pub struct Pki {
    _dir: tempfile::TempDir,
    /// The CA's certificate.
    pub ca: PathBuf,
    /// The server's certificate, signed by the CA, for `127.0.0.1` and `localhost`.
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA.
    pub client_cert: PathBuf,
    /// The client certificate's key.
    pub client_key: PathBuf,
    /// Another CA's certificate, which the server does not trust.
    pub stranger_ca: PathBuf,
    /// A client certificate signed by the stranger CA.
    pub stranger_cert: PathBuf,
    /// Its key.
    pub stranger_key: PathBuf,
}

impl Pki {
    /// Makes the CAs, certificates and keys, and writes them as PEM files.
    ///
    /// # Panics
    ///
    /// If a key or certificate cannot be made or a file cannot be written.
    ///
    /// # Examples
    ///
    /// See [`Pki`].
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("cannot create a directory for certificates");
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("cannot write a PEM file");
            path
        };
        let (ca, issuer) = authority("eventfold test CA");
        let (stranger_ca, stranger) = authority("stranger CA");
        let (server_cert, server_key) =
            leaf(&issuer, "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) = leaf(&issuer, "relay", ExtendedKeyUsagePurpose::ClientAuth);
        let (stranger_cert, stranger_key) =
            leaf(&stranger, "relay", ExtendedKeyUsagePurpose::ClientAuth);
        Pki {
            ca: write("ca.pem", ca),
            server_cert: write("server.pem", server_cert),
            server_key: write("server-key.pem", server_key),
            client_cert: write("client.pem", client_cert),
            client_key: write("client-key.pem", client_key),
            stranger_ca: write("stranger-ca.pem", stranger_ca),
            stranger_cert: write("stranger-client.pem", stranger_cert),
            stranger_key: write("stranger-client-key.pem", stranger_key),
            _dir: dir,
        }
    }

    /// The `tls { … }` block of a nats-server configuration serving the server certificate;
    /// with `verify`, the server also demands a client certificate signed by the CA.
    ///
    /// # Examples
    ///
    /// See [`Pki`].
    pub fn server_config(&self, verify: bool) -> String {
        let file = |path: &Path| config_path(path);
        format!(
            "tls {{\n  cert_file: {}\n  key_file: {}\n  ca_file: {}\n  verify: {verify}\n  \
             timeout: 5\n}}\n",
            file(&self.server_cert),
            file(&self.server_key),
            file(&self.ca)
        )
    }
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}

/// A self-signed CA: its certificate (PEM) and what signs with it.
fn authority(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).expect("no names to check");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate().expect("cannot make a key");
    let cert = params.self_signed(&key).expect("cannot sign the CA");
    (cert.pem(), Issuer::new(params, key))
}

/// A certificate for `name` signed by `issuer`: its PEM and its key's PEM.
fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let names = if usage == ExtendedKeyUsagePurpose::ServerAuth {
        vec![name.to_string(), "localhost".to_string()]
    } else {
        Vec::new()
    };
    let mut params = CertificateParams::new(names).expect("valid names");
    params.distinguished_name.push(DnType::CommonName, name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("cannot make a key");
    let cert = params
        .signed_by(&key, issuer)
        .expect("cannot sign a certificate");
    (cert.pem(), key.serialize_pem())
}

/// An nkey user made for a test: its public key (`U…`, for the server's configuration) and
/// its seed written to a file (for the client's `--nkey`), removed when dropped.
///
/// # Examples
///
/// ```
/// let user = eventfold_relay_testkit::NkeyUser::new();
/// assert!(user.public_key.starts_with('U'));
/// assert!(std::fs::read_to_string(&user.seed_file).unwrap().starts_with("SU"));
/// ```
pub struct NkeyUser {
    _dir: tempfile::TempDir,
    /// The user's public key.
    pub public_key: String,
    /// A file holding the user's seed.
    pub seed_file: PathBuf,
}

impl NkeyUser {
    /// Makes a user key pair and writes its seed.
    ///
    /// # Panics
    ///
    /// If the seed cannot be written.
    ///
    /// # Examples
    ///
    /// See [`NkeyUser`].
    pub fn new() -> NkeyUser {
        let pair = nkeys::KeyPair::new_user();
        let dir = tempfile::tempdir().expect("cannot create a directory for an nkey");
        let seed_file = dir.path().join("user.nk");
        std::fs::write(&seed_file, pair.seed().expect("a new pair has its seed"))
            .expect("cannot write the seed");
        NkeyUser {
            _dir: dir,
            public_key: pair.public_key(),
            seed_file,
        }
    }
}

impl Default for NkeyUser {
    fn default() -> NkeyUser {
        NkeyUser::new()
    }
}
