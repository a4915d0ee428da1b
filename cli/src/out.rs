//! Where output goes: data to stdout (buffered, colored only when wanted), diagnostics and
//! progress bars to stderr.

use crate::args::{Color, Global};
use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

pub const DIM: Style = Style::new().dimmed();
pub const BOLD: Style = Style::new().bold();
pub const TYPE: Style = AnsiColor::Cyan.on_default().bold();
pub const GOOD: Style = AnsiColor::Green.on_default();
pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
pub const BAD: Style = AnsiColor::Red.on_default().bold();

pub struct Out {
    pub stdout: io::BufWriter<Stdout>,
    stderr: AutoStream<io::Stderr>,
    /// For [`notifier`](Self::notifier), which only the relay uses.
    #[cfg_attr(not(feature = "relay"), allow(dead_code))]
    color: ColorChoice,
    pub json: bool,
    pub quiet: bool,
    pub verbose: u8,
    progress: bool,
    /// Whether stdout is a terminal (for the default `log` format).
    pub stdout_tty: bool,
}

impl Out {
    pub fn new(global: &Global) -> Self {
        let choice = match global.color {
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
            // Honours NO_COLOR, CLICOLOR_FORCE, TERM and whether the stream is a terminal.
            Color::Auto => ColorChoice::Auto,
        };
        let stdout_tty = io::stdout().is_terminal();
        let stdout = AutoStream::new(io::stdout(), choice);
        let stderr = AutoStream::new(io::stderr(), choice);
        Out {
            stdout: io::BufWriter::with_capacity(
                1 << 16,
                Stdout {
                    inner: stdout,
                    closed: crate::closed::stdout_was_closed(),
                },
            ),
            stderr,
            color: choice,
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
            progress: !global.no_progress && !global.quiet && io::stderr().is_terminal(),
            stdout_tty,
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()
    }

    /// Reports an error that stopped the command.
    pub fn error(&mut self, error: &io::Error) {
        let _ = writeln!(self.stderr, "{BAD}error:{BAD:#} {error}");
    }

    /// A note on stderr, unless quiet.
    pub fn note(&mut self, text: &str) {
        if !self.quiet {
            let _ = writeln!(self.stderr, "{DIM}{text}{DIM:#}");
        }
    }

    /// Writes lines on stderr from any thread, as [`note`](Self::note) (`warning` false) or as
    /// a warning; writes nothing when quiet.
    #[cfg(feature = "relay")]
    pub fn notifier(&self) -> impl Fn(&str, bool) + Send + Sync + 'static {
        let quiet = self.quiet;
        let color = self.color;
        move |text, warning| {
            if quiet {
                return;
            }
            let mut stderr = AutoStream::new(io::stderr(), color);
            let _ = if warning {
                writeln!(stderr, "{WARN}warning:{WARN:#} {text}")
            } else {
                writeln!(stderr, "{DIM}{text}{DIM:#}")
            };
        }
    }

    /// A progress bar over `total` bytes of history, shown on stderr once the scan has run
    /// for half a second, and only when stderr is a terminal.
    pub fn progress(
        &self,
        message: &'static str,
        total: impl FnOnce() -> io::Result<u64>,
    ) -> Progress {
        let bar = if self.progress {
            total().ok().map(|total| {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
                let style = ProgressStyle::with_template(
                    "{msg} {bar:40.cyan/blue} {decimal_bytes}/{decimal_total_bytes} \
                     {decimal_bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_message(message);
                bar
            })
        } else {
            None
        };
        Progress {
            bar,
            start: Instant::now(),
            shown: false,
            calls: 0,
        }
    }
}

/// The standard output, whose errors say that it is the standard output that could not be
/// written (with the kind the OS gave: a reader that went away stays a broken pipe).
pub struct Stdout {
    inner: AutoStream<io::Stdout>,
    /// Closed when the command started: nothing written reaches anyone.
    closed: bool,
}

impl Stdout {
    fn check(&self) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::other(
                "cannot write to the standard output: it is closed",
            ));
        }
        Ok(())
    }
}

fn naming_stdout(e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot write to the standard output: {e}"),
    )
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check()?;
        self.inner.write(buf).map_err(naming_stdout)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.check()?;
        self.inner.write_all(buf).map_err(naming_stdout)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(naming_stdout)
    }
}

pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    shown: bool,
    calls: u64,
}

/// How long a scan runs before its bar appears.
const SHOW_AFTER: Duration = Duration::from_millis(500);

impl Progress {
    /// The scan reached `position`. Cheap enough to call for every event.
    #[inline]
    pub fn at(&mut self, position: u64) {
        let Some(bar) = &self.bar else { return };
        self.calls += 1;
        if !self.calls.is_multiple_of(4096) {
            return;
        }
        if !self.shown && self.start.elapsed() >= SHOW_AFTER {
            clear_on_interrupt(bar);
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            self.shown = true;
        }
        bar.set_position(position);
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            shown().take();
            bar.finish_and_clear();
        }
    }
}

/// The exit code of a command interrupted by Ctrl-C (or SIGTERM): 128 + SIGINT, as shells
/// report a command that Ctrl-C stopped.
pub const INTERRUPTED: i32 = 130;

/// The bar on screen, for the interrupt handler to clear.
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn shown() -> MutexGuard<'static, Option<ProgressBar>> {
    SHOWN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes Ctrl-C and SIGTERM clear `bar` from the terminal, then exit with [`INTERRUPTED`],
/// instead of leaving it half drawn above the prompt. The handler (a thread of its own, where
/// the bar can be drawn safely) is installed when the first bar appears, so commands that never
/// draw one keep the default handling (the relay its own).
fn clear_on_interrupt(bar: &ProgressBar) {
    static HANDLER: Once = Once::new();
    HANDLER.call_once(|| {
        // Should it fail, an interruption leaves the bar as it always did.
        let _ = ctrlc::set_handler(|| {
            clear_shown();
            std::process::exit(INTERRUPTED);
        });
    });
    *shown() = Some(bar.clone());
}

/// Clears the bar on screen, if one is.
fn clear_shown() {
    if let Some(bar) = shown().take() {
        bar.finish_and_clear();
    }
}

/// How many terminal columns `text` takes: two for a CJK character or most emoji, none for a
/// combining mark.
pub fn width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` followed by spaces up to `columns` terminal columns (as `{:<columns$}` would pad it
/// if every character took one column).
pub fn pad(text: &str, columns: usize) -> String {
    let mut padded = text.to_string();
    padded.extend(std::iter::repeat_n(
        ' ',
        columns.saturating_sub(width(text)),
    ));
    padded
}

/// Writes `value` as one line of JSON.
pub fn json_line(out: &mut impl Write, value: &serde_json::Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// Where something lies, as `file`, its archive frame, byte offset and line say it:
/// `archive.jsonl.zst frame at compressed byte 0, decompressed byte 120 line 3`. A frame is
/// named by its offset in the compressed file; an offset inside the archive's content
/// (`decompressed`) is one in the decompressed stream, otherwise one in the file.
pub fn place(
    file: &str,
    frame: Option<u64>,
    offset: Option<u64>,
    decompressed: bool,
    line: Option<u64>,
) -> String {
    let mut text = file.to_string();
    if let Some(frame) = frame {
        text.push_str(&format!(" frame at compressed byte {frame}"));
    }
    match offset {
        Some(offset) if frame.is_some() && decompressed => {
            text.push_str(&format!(", decompressed byte {offset}"));
        }
        Some(offset) if frame != Some(offset) => text.push_str(&format!(" byte {offset}")),
        _ => {}
    }
    if let Some(line) = line {
        text.push_str(&format!(" line {line}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{pad, place, width};

    #[test]
    fn padding_counts_terminal_columns() {
        assert_eq!(width("注文"), 4);
        assert_eq!(width("🎉a"), 3);
        assert_eq!(pad("注文", 6), "注文  ");
        assert_eq!(pad("ab", 6), "ab    ");
        assert_eq!(pad("toolong", 3), "toolong");
    }

    #[test]
    fn places_say_which_offsets_are_compressed() {
        let archive = "archive.jsonl.zst";
        assert_eq!(
            place(archive, Some(0), Some(120), true, Some(3)),
            "archive.jsonl.zst frame at compressed byte 0, decompressed byte 120 line 3"
        );
        assert_eq!(
            place(archive, Some(108), Some(108), false, None),
            "archive.jsonl.zst frame at compressed byte 108"
        );
        assert_eq!(
            place("app.jsonl", None, Some(57), false, Some(2)),
            "app.jsonl byte 57 line 2"
        );
    }
}
