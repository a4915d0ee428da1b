//! Reaching a secured NATS server: who the relay or a consumer says it is (a credentials file,
//! an nkey, a user and password, a token) and which TLS it uses (a CA of its own, a client
//! certificate).

use crate::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A password or a token: its `Debug` shows `Secret(<redacted>)`, never the value, so that a
/// configuration can be logged.
///
/// # Examples
///
/// ```
/// use eventfold_relay::Secret;
/// let secret = Secret::new("hunter2");
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// assert_eq!(secret.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    ///
    /// # Examples
    ///
    /// See [`Secret`].
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, to hand to the server.
    ///
    /// # Examples
    ///
    /// See [`Secret`].
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Secret, Self::Err> {
        Ok(Secret::from(value))
    }
}

/// How to authenticate to the NATS server, and which TLS to use: the options of the `nats`
/// command-line tool (`--creds`, `--nkey`, `--user`/`--password`, `--token`, `--tlscert`,
/// `--tlskey`, `--tlsca`).
///
/// The default is a bare connection: no credentials, and TLS only when the server requires it
/// or the URL says `tls://`, checked against the system's root certificates. Several methods
/// may be given at once; the server uses the one it is configured for. Any TLS option makes
/// TLS required: the connection never falls back to plain text.
///
/// Files are read when connecting. Its `Debug` never shows a password or a token (they are
/// [`Secret`]s), and an nkey seed or a credentials file is only ever named by its path.
///
/// # Examples
///
/// ```
/// use eventfold_relay::{Auth, Config, Secret};
/// let mut config = Config::new("data", "tls://nats.internal:4222", "TODOS");
/// config.auth.user = Some("relay".into());
/// config.auth.password = Some(Secret::new("hunter2"));
/// config.auth.tls_ca = Some("/etc/nats/ca.pem".into());
/// let shown = format!("{config:?}");
/// assert!(shown.contains("relay") && !shown.contains("hunter2"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Auth {
    /// A credentials file (`.creds`: a user JWT and its nkey seed), for a server in operator
    /// mode.
    pub credentials_file: Option<PathBuf>,
    /// A file holding an nkey seed (`SU…`), for a server that lists the user's public nkey.
    pub nkey_file: Option<PathBuf>,
    /// The user name; needs [`password`](Self::password).
    pub user: Option<String>,
    /// The user's password; needs [`user`](Self::user).
    pub password: Option<Secret>,
    /// An authorization token.
    pub token: Option<Secret>,
    /// A client certificate (PEM), for a server that verifies its clients; needs
    /// [`tls_key`](Self::tls_key).
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM); needs [`tls_cert`](Self::tls_cert).
    pub tls_key: Option<PathBuf>,
    /// The CA certificates (PEM) to check the server's certificate against, instead of the
    /// system's root certificates.
    pub tls_ca: Option<PathBuf>,
}

impl Auth {
    /// Whether any TLS option is set.
    fn tls(&self) -> bool {
        self.tls_cert.is_some() || self.tls_key.is_some() || self.tls_ca.is_some()
    }
}

/// Connects to `server` with `auth`, once: a refused credential or a failed TLS handshake is
/// an error at once, not a retry.
pub(crate) async fn connect(server: &str, auth: &Auth) -> Result<async_nats::Client, Error> {
    connect_with(options(auth).await?, server).await
}

/// Connects to `server` with `options` (made by [`options`]), once.
pub(crate) async fn connect_with(
    options: async_nats::ConnectOptions,
    server: &str,
) -> Result<async_nats::Client, Error> {
    options
        .connect(server)
        .await
        .map_err(|source| Error::Connect {
            server: server.to_string(),
            source,
        })
}

/// The client's options for `auth`, its files checked first so that a missing one is named.
pub(crate) async fn options(auth: &Auth) -> Result<async_nats::ConnectOptions, Error> {
    let mut options = async_nats::ConnectOptions::new();
    match (&auth.user, &auth.password) {
        (Some(user), Some(password)) => {
            options = options.user_and_password(user.clone(), password.expose().to_string());
        }
        (Some(_), None) => return Err(Error::Config("a user needs a password".into())),
        (None, Some(_)) => return Err(Error::Config("a password needs a user".into())),
        (None, None) => {}
    }
    if let Some(token) = &auth.token {
        options = options.token(token.expose().to_string());
    }
    if let Some(path) = &auth.nkey_file {
        let seed = read("nkey seed file", path).await?;
        options = options.nkey(seed.trim().to_string());
    }
    if let Some(path) = &auth.credentials_file {
        readable("credentials file", path)?;
        options = options.credentials_file(path).await.map_err(|e| {
            Error::Config(format!(
                "the credentials file {} holds no user JWT and nkey seed: {e}",
                path.display()
            ))
        })?;
    }
    match (&auth.tls_cert, &auth.tls_key) {
        (Some(cert), Some(key)) => {
            readable("TLS client certificate", cert)?;
            readable("TLS client key", key)?;
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        (Some(_), None) => {
            return Err(Error::Config(
                "a TLS client certificate needs its key".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(Error::Config(
                "a TLS client key needs its certificate".into(),
            ));
        }
        (None, None) => {}
    }
    if let Some(ca) = &auth.tls_ca {
        readable("TLS CA file", ca)?;
        options = options.add_root_certificates(ca.clone());
    }
    Ok(options.require_tls(auth.tls()))
}

/// Checks that `path` can be opened, to name it when it cannot (the client would only say
/// that something was not found).
fn readable(what: &str, path: &Path) -> Result<(), Error> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| Error::Config(format!("cannot read the {what} {}: {e}", path.display())))
}

/// Reads a small file on a blocking thread.
async fn read(what: &str, path: &Path) -> Result<String, Error> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::read_to_string(owned))
        .await
        .map_err(std::io::Error::other)
        .and_then(|read| read)
        .map_err(|e| Error::Config(format!("cannot read the {what} {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn debug_never_shows_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let seed = "SUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM";
        let nkey = dir.path().join("relay.nk");
        std::fs::write(&nkey, seed).unwrap();
        let mut config = Config::new("data", "nats://127.0.0.1:4222", "S");
        config.auth = Auth {
            credentials_file: Some(dir.path().join("relay.creds")),
            nkey_file: Some(nkey.clone()),
            user: Some("relay-user".into()),
            password: Some(Secret::new("pw-hunter2")),
            token: Some(Secret::new("tok-s3cr3t")),
            tls_cert: Some("client.pem".into()),
            tls_key: Some("client-key.pem".into()),
            tls_ca: Some("ca.pem".into()),
        };
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            for secret in ["pw-hunter2", "tok-s3cr3t", seed] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("relay-user"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains(&format!("{:?}", nkey)), "{shown}");
        }
    }

    #[test]
    fn a_half_given_credential_is_refused_before_connecting() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let refused = |auth: Auth| {
            // No server listens on port 1: the refusal must come first.
            let error = runtime
                .block_on(connect("nats://127.0.0.1:1", &auth))
                .unwrap_err();
            assert!(matches!(error, Error::Config(_)), "{error}");
            error.to_string()
        };
        let user = Auth {
            user: Some("u".into()),
            ..Auth::default()
        };
        assert!(refused(user).contains("a user needs a password"));
        let password = Auth {
            password: Some(Secret::new("p")),
            ..Auth::default()
        };
        assert!(refused(password).contains("a password needs a user"));
        let cert = Auth {
            tls_cert: Some("c.pem".into()),
            ..Auth::default()
        };
        assert!(refused(cert).contains("needs its key"));
        let missing = Auth {
            nkey_file: Some("/nonexistent/relay.nk".into()),
            ..Auth::default()
        };
        assert!(refused(missing).contains("cannot read the nkey seed file /nonexistent/relay.nk"));
        let missing = Auth {
            credentials_file: Some("/nonexistent/relay.creds".into()),
            ..Auth::default()
        };
        assert!(
            refused(missing).contains("cannot read the credentials file /nonexistent/relay.creds")
        );
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("relay.creds");
        std::fs::write(&creds, "not a credentials file\n").unwrap();
        let malformed = Auth {
            credentials_file: Some(creds.clone()),
            ..Auth::default()
        };
        let expected = format!("the credentials file {} holds no user JWT", creds.display());
        assert!(refused(malformed).contains(&expected));
        let missing = Auth {
            tls_ca: Some("/nonexistent/ca.pem".into()),
            ..Auth::default()
        };
        assert!(refused(missing).contains("cannot read the TLS CA file /nonexistent/ca.pem"));
    }
}
