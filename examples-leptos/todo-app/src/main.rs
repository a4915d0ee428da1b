//! Serves the todo app: opens the event log, puts it in the Leptos context, and serves the
//! server-rendered page and the server functions with axum until Ctrl-C.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use todo_app::app::{App, shell};
use todo_app::live;
use todo_app::server::{CHECKPOINT_EVERY, SharedLog, open_log};
use tokio::sync::watch;
use tower_http::services::ServeDir;

const USAGE: &str = "\
usage: todo-app [--addr HOST:PORT] [--data DIR] [--max-log-size BYTES] [--site DIR]

  --addr           address to serve on (env SITE_ADDR; default 127.0.0.1:3000; port 0 picks one)
  --data           the event log's directory (env DATA_DIR; default ./data)
  --max-log-size   rotate app.jsonl into archive.jsonl.zst at this size (env MAX_LOG_SIZE;
                   default 10000000; 0 never rotates)
  --site           where build-hydrate.sh put the WebAssembly build, served as /pkg (env
                   SITE_ROOT; default target/site); without it the page is server-rendered only";

/// Where to serve and where the data lives: a flag wins over its environment variable.
#[derive(Debug)]
struct Config {
    addr: SocketAddr,
    data_dir: PathBuf,
    max_log_size: u64,
    site_root: PathBuf,
}

impl Config {
    /// Reads `SITE_ADDR`, `DATA_DIR`, `MAX_LOG_SIZE`, `SITE_ROOT` through `env`, then the flags
    /// in `args`.
    fn parse(
        env: impl Fn(&str) -> Option<String>,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Config, String> {
        let mut addr = env("SITE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_string());
        let mut data = env("DATA_DIR").unwrap_or_else(|| "./data".to_string());
        let mut max_log_size = env("MAX_LOG_SIZE").unwrap_or_else(|| "10000000".to_string());
        let mut site = env("SITE_ROOT").unwrap_or_else(|| "target/site".to_string());
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let slot = match flag.as_str() {
                "--addr" => &mut addr,
                "--data" => &mut data,
                "--max-log-size" => &mut max_log_size,
                "--site" => &mut site,
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            };
            *slot = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))?;
        }
        Ok(Config {
            addr: addr
                .parse()
                .map_err(|e| format!("bad address {addr:?}: {e}"))?,
            data_dir: PathBuf::from(data),
            max_log_size: max_log_size
                .parse()
                .map_err(|e| format!("bad log size {max_log_size:?}: {e}"))?,
            site_root: PathBuf::from(site),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match Config::parse(|name| std::env::var(name).ok(), std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("todo-app: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn Error>> {
    // One process owns the log: opening takes an exclusive lock on the directory.
    let mut log = open_log(&config.data_dir, config.max_log_size).map_err(|e| {
        format!(
            "cannot open the event log in {}: {e}",
            config.data_dir.display()
        )
    })?;
    log.refresh_all()?;
    let data_dir = std::fs::canonicalize(log.dir())?;
    println!("data: {}", data_dir.display());
    println!("  events:    {}", data_dir.join("app.jsonl").display());
    println!(
        "  snapshots: {} (checkpoints every {CHECKPOINT_EVERY} events)",
        data_dir.join("views").display()
    );
    // Every open page hears of every change (see `live`); the streams end on shutdown.
    let (stop, stopping) = watch::channel(false);
    let changes = live::follow_log(log.reader(), stopping)?;
    let log: SharedLog = Arc::new(Mutex::new(log));

    // The hydrated build is optional: serve it if build-hydrate.sh has made it.
    let pkg_dir = config.site_root.join("pkg");
    let hydrate = pkg_dir.join("todo-app_bg.wasm").is_file();
    if hydrate {
        println!(
            "hydrated build: {}",
            std::fs::canonicalize(&pkg_dir)?.display()
        );
    } else {
        println!(
            "server-rendered only: no hydrated build in {}",
            pkg_dir.display()
        );
    }
    let options = LeptosOptions::builder()
        .output_name("todo-app")
        .site_root(config.site_root.to_string_lossy().as_ref())
        .site_addr(config.addr)
        .build();
    let routes = generate_route_list(App);
    let app = Router::new()
        .route("/style.css", get(stylesheet))
        .route(
            "/events",
            get(move || std::future::ready(live::updates(&changes))),
        )
        .nest_service("/pkg", ServeDir::new(pkg_dir))
        .leptos_routes_with_context(&options, routes, move || provide_context(log.clone()), {
            let options = options.clone();
            move || shell(options.clone(), hydrate)
        })
        .with_state(options);

    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        })
        .await?;
    println!("stopped; every event was synced to disk when it was appended");
    Ok(())
}

async fn stylesheet() -> impl IntoResponse {
    let css = include_str!("../style/main.css");
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("cannot listen for Ctrl-C");
    };
    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("cannot listen for SIGTERM")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    println!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(env: &[(&str, &str)], args: &[&str]) -> Result<Config, String> {
        let env = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        Config::parse(env, args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn defaults_then_environment_then_flags() {
        let config = parse(&[], &[]).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.max_log_size, 10_000_000);
        assert_eq!(config.site_root, PathBuf::from("target/site"));

        let env = [("SITE_ADDR", "0.0.0.0:8080"), ("DATA_DIR", "/srv/todos")];
        let config = parse(&env, &[]).unwrap();
        assert_eq!(config.addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.data_dir, PathBuf::from("/srv/todos"));

        let config = parse(&env, &["--addr", "127.0.0.1:0", "--max-log-size", "0"]).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:0");
        assert_eq!(config.data_dir, PathBuf::from("/srv/todos"));
        assert_eq!(config.max_log_size, 0);
    }

    #[test]
    fn bad_arguments_are_explained() {
        assert!(
            parse(&[], &["--data"])
                .unwrap_err()
                .starts_with("--data needs a value")
        );
        assert!(
            parse(&[], &["--port", "1"])
                .unwrap_err()
                .contains("unknown argument")
        );
        assert!(
            parse(&[], &["--addr", "localhost"])
                .unwrap_err()
                .contains("bad address")
        );
        assert!(
            parse(&[("MAX_LOG_SIZE", "big")], &[])
                .unwrap_err()
                .contains("bad log size")
        );
    }
}
