//! The relay and a consumer against a real `nats-server` serving TLS with a certificate from a
//! CA the test makes, and one that also verifies its clients' certificates. The right CA (and
//! client certificate) relay every event; the system's roots, a stranger CA, or a missing or
//! foreign client certificate are refused at once with an error that names the server and says
//! the TLS handshake failed, and nothing is marked relayed.

mod common;

use common::{Wrong, relay_with_right_and_wrong};
use eventfold_relay::Auth;
use eventfold_relay_testkit::{NatsServer, Pki};
use std::path::Path;

const HANDSHAKE: &str = "TLS handshake with the NATS server";

fn trusting(ca: &Path) -> Auth {
    let mut auth = Auth::default();
    auth.tls_ca = Some(ca.to_path_buf());
    auth
}

fn presenting(ca: &Path, cert: &Path, key: &Path) -> Auth {
    let mut auth = trusting(ca);
    auth.tls_cert = Some(cert.to_path_buf());
    auth.tls_key = Some(key.to_path_buf());
    auth
}

#[test]
fn the_servers_ca_relays_and_an_unknown_one_is_refused() {
    let pki = Pki::new();
    let Some(nats) = NatsServer::start_with_config_or_skip(
        "the_servers_ca_relays_and_an_unknown_one_is_refused",
        &pki.server_config(false),
    ) else {
        return;
    };
    let wrong = [
        Wrong {
            what: "the system's roots",
            auth: Auth::default(),
            says: HANDSHAKE,
        },
        Wrong {
            what: "a stranger CA",
            auth: trusting(&pki.stranger_ca),
            says: HANDSHAKE,
        },
    ];
    relay_with_right_and_wrong(&nats.url, &trusting(&pki.ca), &wrong, &[]);
}

#[test]
fn a_server_that_verifies_clients_takes_only_a_certificate_of_its_ca() {
    let pki = Pki::new();
    let Some(nats) = NatsServer::start_with_config_or_skip(
        "a_server_that_verifies_clients_takes_only_a_certificate_of_its_ca",
        &pki.server_config(true),
    ) else {
        return;
    };
    let wrong = [
        Wrong {
            what: "no client certificate",
            auth: trusting(&pki.ca),
            says: HANDSHAKE,
        },
        Wrong {
            what: "a client certificate of a stranger CA",
            auth: presenting(&pki.ca, &pki.stranger_cert, &pki.stranger_key),
            says: HANDSHAKE,
        },
    ];
    let right = presenting(&pki.ca, &pki.client_cert, &pki.client_key);
    relay_with_right_and_wrong(&nats.url, &right, &wrong, &[]);
}
