//! The command line: global flags, commands and their flags.

use clap::{Args, Parser, Subcommand, ValueEnum};
#[cfg(feature = "relay")]
use eventfold_relay::Secret;
use std::path::PathBuf;

/// Inspect, check, export and salvage an eventfold log directory.
///
/// Every command only reads the directory: it takes no lock, creates no file in it, reads up
/// to the last complete line, and is safe while a program appends to the log and rotates it.
#[derive(Debug, Parser)]
#[command(name = "eventfold", version, about, long_about = None)]
#[command(after_help = ROOT_AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// What `eventfold --help` adds below the options: what `-v` adds to each command, which the
/// flag's own help, repeated in every command's, does not say.
const ROOT_AFTER_HELP: &str = "-v, --verbose adds archive frames to `info` and timings to `verify` \
    and `stats`.\n\nExit codes: 0 all well, 1 something found wrong or unreadable, 2 usage.";

/// The flags every command takes, shown apart from a command's own in its help. Their help is
/// repeated in every command's, so it stays short and names no other command.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The log directory (the one that holds app.jsonl). Unlike git -C, it does not change the
    /// directory: other paths on the command line stay relative to the current one.
    #[arg(
        short = 'C',
        long = "dir",
        global = true,
        env = "EVENTFOLD_DIR",
        default_value = "."
    )]
    pub dir: PathBuf,
    /// Print one JSON object per line (NDJSON) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// When to color the output (NO_COLOR in the environment means never, for auto).
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Never show progress bars.
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Print less: no progress, no notes; only data and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more (eventfold --help says what each command adds).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// File sizes, event count, archive frames, first and last ts, views, rotation state.
    Info,
    /// Print events, filtered and limited, optionally following the log as it grows.
    #[command(visible_alias = "cat")]
    Log(LogArgs),
    /// Count, bytes, and first and last ts per event type, actor, hour or day.
    Stats(StatsArgs),
    /// Check everything that can be checked; exit 1 if an error is found.
    Verify(VerifyArgs),
    /// Each snapshot's offset, lag, validity and version.
    Views,
    /// One view's snapshot: its figures, or with --state its state as JSON.
    View(ViewArgs),
    /// The archive and the active log as one ordered JSONL stream: exactly what a replay folds.
    Export(ExportArgs),
    /// Write every readable event to a new, healthy directory; report each line left out.
    Salvage(SalvageArgs),
    /// Publish every event to a NATS JetStream stream, in order and exactly once, following
    /// the log until Ctrl-C or SIGTERM.
    #[cfg(feature = "relay")]
    Relay(RelayArgs),
}

/// Which events to keep (every flag given must hold; repeated flags mean any of them).
#[derive(Debug, Args, Default)]
pub struct FilterArgs {
    /// Keep events of this type; a pattern of `*` (any run of characters) and `?` (one
    /// character), such as `todo_*` or `order_?`. `[`, `]`, `{`, `}` and `\` are refused.
    /// Repeatable.
    #[arg(long = "type", value_name = "GLOB")]
    pub types: Vec<String>,
    /// Keep events at or after this time: RFC 3339, a date, seconds since the epoch, or a
    /// time ago such as 2h, 30m, 7d.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Keep events with this id. Repeatable.
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Keep events with this actor. Repeatable.
    #[arg(long = "actor", value_name = "ACTOR")]
    pub actors: Vec<String>,
    /// Keep events whose position lies in A..B (B excluded; A.. and ..B too).
    #[arg(long, value_name = "A..B")]
    pub position: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print the first N events kept.
    #[arg(short = 'n', long = "limit", value_name = "N")]
    pub limit: Option<u64>,
    /// Print the last N events kept.
    #[arg(long, value_name = "N", conflicts_with = "limit")]
    pub tail: Option<usize>,
    /// Keep printing events as they are appended, across rotations.
    #[arg(short, long)]
    pub follow: bool,
    /// pretty, jsonl, or a template such as '{ts} {type} {id}' (fields: ts, time, type, id,
    /// actor, data, meta, position, end, index, file, frame, offset, line). Default: pretty
    /// on a terminal, jsonl otherwise.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Add where each event lies: file, frame, byte offset, line, position and index.
    #[arg(long)]
    pub envelope: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    Type,
    Actor,
    Hour,
    Day,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// What to group by.
    #[arg(long, value_enum, default_value_t = By::Type)]
    pub by: By,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Do not decompress the archive: walk its frames only.
    #[arg(long)]
    pub quick: bool,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The view's name (its snapshot is views/NAME.snapshot.json).
    pub name: String,
    /// Print the state held by the snapshot, as JSON.
    #[arg(long)]
    pub state: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Add each event's position as a first field, "position".
    #[arg(long)]
    pub with_position: bool,
    /// Write to this file instead of stdout (never inside the log directory).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SalvageArgs {
    /// The new directory to write (must not exist, or be empty). It is built beside it as
    /// .NAME.salvage-tmp and renamed into place once complete.
    pub dest: PathBuf,
}

/// `eventfold relay`: the flags of `eventfold_relay::Config`.
#[cfg(feature = "relay")]
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// The JetStream stream; created (file storage, one subject) if it does not exist.
    #[arg(long, value_name = "NAME")]
    pub stream: String,
    /// The NATS server.
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    pub server: String,
    /// The subject every event is published on. Default: eventfold.STREAM.
    #[arg(long, value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// Where the last acknowledged position is kept. Default: beside the log directory,
    /// DIR.relay-STREAM.json (never inside it).
    #[arg(long, value_name = "PATH")]
    pub resume_file: Option<PathBuf>,
    /// Publishes awaiting their acknowledgement at most.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_flight: u64,
    /// The duplicate window, in seconds, of a stream the relay creates: how long the server
    /// remembers an event's id to drop a re-send.
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub duplicate_window: u64,
    /// Publish the history present at the start, then exit, instead of following the log.
    #[arg(long)]
    pub until_caught_up: bool,
    /// Exit 1 when the server has been unreachable this long (90, 30s, 5m, 1h). Default: keep
    /// reconnecting for ever, reporting the outage on stderr.
    #[arg(long, value_name = "DURATION", value_parser = crate::commands::relay_duration)]
    pub give_up_after: Option<std::time::Duration>,
    #[command(flatten)]
    pub auth: NatsAuthArgs,
}

/// How to authenticate to the NATS server, and which TLS to use: the flags of the `nats` tool.
/// A secret given in the environment stays out of the process list.
#[cfg(feature = "relay")]
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Authentication and TLS")]
pub struct NatsAuthArgs {
    /// A credentials file (a user JWT and its nkey seed).
    #[arg(long, value_name = "FILE", env = "EVENTFOLD_NATS_CREDS")]
    pub creds: Option<PathBuf>,
    /// A file holding an nkey seed (SU...).
    #[arg(long, value_name = "FILE", env = "EVENTFOLD_NATS_NKEY")]
    pub nkey: Option<PathBuf>,
    /// The user name; needs --password.
    #[arg(
        long,
        value_name = "USER",
        env = "EVENTFOLD_NATS_USER",
        requires = "password"
    )]
    pub user: Option<String>,
    /// The user's password; needs --user. Prefer the environment variable.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "EVENTFOLD_NATS_PASSWORD",
        hide_env_values = true,
        requires = "user"
    )]
    pub password: Option<Secret>,
    /// An authorization token. Prefer the environment variable.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "EVENTFOLD_NATS_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<Secret>,
    /// A client certificate (PEM), for a server that verifies its clients; needs --tlskey.
    #[arg(
        long,
        value_name = "FILE",
        env = "EVENTFOLD_NATS_TLSCERT",
        requires = "tlskey"
    )]
    pub tlscert: Option<PathBuf>,
    /// The client certificate's private key (PEM); needs --tlscert.
    #[arg(
        long,
        value_name = "FILE",
        env = "EVENTFOLD_NATS_TLSKEY",
        requires = "tlscert"
    )]
    pub tlskey: Option<PathBuf>,
    /// The CA certificates (PEM) that signed the server's certificate, instead of the
    /// system's. Any TLS flag makes TLS required.
    #[arg(long, value_name = "FILE", env = "EVENTFOLD_NATS_TLSCA")]
    pub tlsca: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// docs/cli.md, the command line's reference.
    const REFERENCE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md"));

    /// Every command, alias and flag clap knows is named in docs/cli.md: a new one cannot land
    /// undocumented.
    #[test]
    fn the_reference_names_every_command_and_flag() {
        let mut missing = Vec::new();
        let mut check = |what: String| {
            if !REFERENCE.contains(&what) {
                missing.push(what);
            }
        };
        let root = Cli::command();
        let mut commands = vec![root.clone()];
        commands.extend(root.get_subcommands().cloned());
        for command in &commands {
            if command.get_name() != root.get_name() {
                check(format!("### `{}", command.get_name()));
                for alias in command.get_visible_aliases() {
                    check(format!("alias `{alias}`"));
                }
            }
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    check(format!("`--{long}"));
                }
                if let Some(short) = arg.get_short() {
                    check(format!("`-{short}"));
                }
                if arg.is_positional() {
                    let name = arg
                        .get_value_names()
                        .map_or(arg.get_id().as_str(), |v| &v[0]);
                    check(format!("{} {name}`", command.get_name()));
                }
                if let Some(var) = arg.get_env() {
                    check(var.to_string_lossy().into_owned());
                }
            }
        }
        assert!(missing.is_empty(), "docs/cli.md does not name: {missing:?}");
    }

    /// What -v adds per command is said once, in `eventfold --help`, not repeated in each
    /// command's help, where it named the other commands.
    #[test]
    fn only_the_top_help_says_what_verbose_adds_to_each_command() {
        const WHAT: &str = "archive frames to `info` and timings to `verify` and `stats`";
        let mut root = Cli::command();
        root.build();
        let top = root.render_long_help().to_string();
        assert!(top.contains(WHAT), "{top}");
        assert!(top.contains("-v, --verbose"), "{top}");
        let names: Vec<String> = root
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        assert!(names.len() >= 8, "{names:?}");
        for sub in root
            .get_subcommands_mut()
            .filter(|c| c.get_name() != "help")
        {
            let name = sub.get_name().to_string();
            for help in [sub.render_long_help(), sub.render_help()] {
                let help = help.to_string();
                assert!(help.contains("-v, --verbose"), "{name}: {help}");
                let verbose = help
                    .lines()
                    .skip_while(|line| !line.contains("-v, --verbose"))
                    .take_while(|line| !line.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                for other in names.iter().filter(|other| **other != name) {
                    assert!(
                        !verbose.contains(&format!("`{other}`")),
                        "{name}'s help of -v names {other}: {verbose}"
                    );
                }
                assert!(!help.contains("timings in `verify`"), "{name}: {help}");
                assert!(!help.contains(WHAT), "{name}: {help}");
                assert!(!help.contains("salvage's destination"), "{name}: {help}");
            }
        }
    }
}
