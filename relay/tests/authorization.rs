//! The relay and a consumer against a real `nats-server` that demands credentials: a user and
//! password, a token, an nkey. The right ones relay every event; wrong or missing ones are
//! refused at once with an error that names the server and says authorization failed, and
//! nothing is marked relayed.

mod common;

use common::{Wrong, relay_with_right_and_wrong};
use eventfold_relay::{Auth, Secret};
use eventfold_relay_testkit::{NatsServer, NkeyUser};

const REFUSED: &str = "authorization failed";

fn user(name: &str, password: &str) -> Auth {
    let mut auth = Auth::default();
    auth.user = Some(name.into());
    auth.password = Some(Secret::new(password));
    auth
}

fn token(value: &str) -> Auth {
    let mut auth = Auth::default();
    auth.token = Some(Secret::new(value));
    auth
}

fn nkey(user: &NkeyUser) -> Auth {
    let mut auth = Auth::default();
    auth.nkey_file = Some(user.seed_file.clone());
    auth
}

#[test]
fn user_and_password_relay_and_wrong_ones_are_refused() {
    let config = r#"authorization { user: relay, password: "pw-right-4411" }"#;
    let Some(nats) = NatsServer::start_with_config_or_skip(
        "user_and_password_relay_and_wrong_ones_are_refused",
        config,
    ) else {
        return;
    };
    let wrong = [
        Wrong {
            what: "a wrong password",
            auth: user("relay", "pw-wrong-9923"),
            says: REFUSED,
        },
        Wrong {
            what: "another user",
            auth: user("intruder", "pw-right-4411"),
            says: REFUSED,
        },
        Wrong {
            what: "no credentials",
            auth: Auth::default(),
            says: REFUSED,
        },
        Wrong {
            what: "a token instead",
            auth: token("pw-right-4411"),
            says: REFUSED,
        },
    ];
    relay_with_right_and_wrong(
        &nats.url,
        &user("relay", "pw-right-4411"),
        &wrong,
        &["pw-right-4411", "pw-wrong-9923"],
    );
}

#[test]
fn a_token_relays_and_a_wrong_one_is_refused() {
    let config = r#"authorization { token: "tok-right-5150" }"#;
    let Some(nats) =
        NatsServer::start_with_config_or_skip("a_token_relays_and_a_wrong_one_is_refused", config)
    else {
        return;
    };
    let wrong = [
        Wrong {
            what: "a wrong token",
            auth: token("tok-wrong-8080"),
            says: REFUSED,
        },
        Wrong {
            what: "no credentials",
            auth: Auth::default(),
            says: REFUSED,
        },
    ];
    relay_with_right_and_wrong(
        &nats.url,
        &token("tok-right-5150"),
        &wrong,
        &["tok-right-5150", "tok-wrong-8080"],
    );
}

#[test]
fn an_nkey_seed_file_relays_and_an_unknown_key_is_refused() {
    let known = NkeyUser::new();
    let stranger = NkeyUser::new();
    let config = format!(
        "authorization {{ users = [ {{ nkey: {} }} ] }}",
        known.public_key
    );
    let Some(nats) = NatsServer::start_with_config_or_skip(
        "an_nkey_seed_file_relays_and_an_unknown_key_is_refused",
        &config,
    ) else {
        return;
    };
    let seed = |user: &NkeyUser| std::fs::read_to_string(&user.seed_file).unwrap();
    let (known_seed, stranger_seed) = (seed(&known), seed(&stranger));
    let wrong = [
        Wrong {
            what: "an unknown nkey",
            auth: nkey(&stranger),
            says: REFUSED,
        },
        Wrong {
            what: "no credentials",
            auth: Auth::default(),
            says: REFUSED,
        },
    ];
    relay_with_right_and_wrong(
        &nats.url,
        &nkey(&known),
        &wrong,
        &[known_seed.trim(), stranger_seed.trim()],
    );
}
