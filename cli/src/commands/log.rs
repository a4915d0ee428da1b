//! `eventfold log` and `eventfold export`: events, filtered, as text or JSON lines.

use crate::args::{ExportArgs, LogArgs};
use crate::out::{self, DIM, Out, TYPE};
use crate::time;
use eventfold::{EventReader, ScannedEvent};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

/// How `log` prints an event.
enum Format {
    Pretty,
    Jsonl,
    Template(Vec<Piece>),
}

/// A piece of a `--format` template.
enum Piece {
    Text(String),
    Field(Field),
}

#[derive(Clone, Copy)]
enum Field {
    Ts,
    Time,
    Type,
    Id,
    Actor,
    Data,
    Meta,
    Position,
    End,
    Index,
    File,
    Frame,
    Offset,
    Line,
}

fn field(name: &str) -> Option<Field> {
    Some(match name {
        "ts" => Field::Ts,
        "time" => Field::Time,
        "type" => Field::Type,
        "id" => Field::Id,
        "actor" => Field::Actor,
        "data" => Field::Data,
        "meta" => Field::Meta,
        "position" => Field::Position,
        "end" => Field::End,
        "index" => Field::Index,
        "file" => Field::File,
        "frame" => Field::Frame,
        "offset" => Field::Offset,
        "line" => Field::Line,
        _ => return None,
    })
}

/// Reads a template: `{name}` is a field, `{{` and `}}` are braces, `\t` and `\n` escapes.
fn template(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => {
                            return Err(format!(
                                "--format: {{{name} is not closed; write {{{{ for a literal {{"
                            ));
                        }
                    }
                }
                let found = field(&name).ok_or_else(|| {
                    format!(
                        "--format: unknown field {{{name}}}; fields are ts, time, type, id, actor, \
                         data, meta, position, end, index, file, frame, offset, line"
                    )
                })?;
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
                pieces.push(Piece::Field(found));
            }
            '\\' if chars.peek() == Some(&'t') => {
                chars.next();
                literal.push('\t');
            }
            '\\' if chars.peek() == Some(&'n') => {
                chars.next();
                literal.push('\n');
            }
            c => literal.push(c),
        }
    }
    pieces.push(Piece::Text(literal));
    Ok(pieces)
}

/// Prints one event into `buf`.
struct Printer {
    format: Format,
    envelope: bool,
}

impl Printer {
    fn print(&self, e: &ScannedEvent<'_>, buf: &mut Vec<u8>) -> io::Result<()> {
        match &self.format {
            Format::Jsonl if self.envelope => {
                write!(
                    buf,
                    "{{\"file\":\"{}\",\"frame\":{},\"offset\":{},\"line\":{},\"position\":{},\
                     \"index\":{},\"event\":",
                    e.location.file.name(),
                    e.location
                        .frame
                        .map_or("null".to_string(), |f| f.to_string()),
                    e.location.offset,
                    e.location.line,
                    e.position,
                    e.index
                )?;
                buf.extend_from_slice(e.event.line());
                buf.extend_from_slice(b"}\n");
            }
            Format::Jsonl => {
                buf.extend_from_slice(e.event.line());
                buf.push(b'\n');
            }
            Format::Pretty => {
                let ev = e.event;
                if self.envelope {
                    let place = out::place(
                        e.location.file.name(),
                        e.location.frame,
                        Some(e.location.offset),
                        true,
                        Some(e.location.line),
                    );
                    write!(buf, "{DIM}{place} position {}{DIM:#}  ", e.position)?;
                }
                write!(
                    buf,
                    "{DIM}{}{DIM:#}  {TYPE}{}{TYPE:#}",
                    time::format(ev.ts()),
                    ev.event_type()
                )?;
                if let Some(id) = ev.id() {
                    write!(buf, "  id={id}")?;
                }
                if let Some(actor) = ev.actor() {
                    write!(buf, "  actor={actor}")?;
                }
                write!(buf, "  {}", compact(ev.data_raw()))?;
                if let Some(meta) = ev.meta_raw() {
                    write!(buf, "  {DIM}meta={}{DIM:#}", compact(meta))?;
                }
                buf.push(b'\n');
            }
            Format::Template(pieces) => {
                for piece in pieces {
                    match piece {
                        Piece::Text(text) => buf.extend_from_slice(text.as_bytes()),
                        Piece::Field(f) => write_field(buf, *f, e)?,
                    }
                }
                buf.push(b'\n');
            }
        }
        Ok(())
    }
}

fn write_field(buf: &mut Vec<u8>, field: Field, e: &ScannedEvent<'_>) -> io::Result<()> {
    let ev = e.event;
    match field {
        Field::Ts => write!(buf, "{}", ev.ts()),
        Field::Time => write!(buf, "{}", time::format(ev.ts())),
        Field::Type => write!(buf, "{}", ev.event_type()),
        Field::Id => write!(buf, "{}", ev.id().unwrap_or("")),
        Field::Actor => write!(buf, "{}", ev.actor().unwrap_or("")),
        Field::Data => write!(buf, "{}", ev.data_raw()),
        Field::Meta => write!(buf, "{}", ev.meta_raw().unwrap_or("")),
        Field::Position => write!(buf, "{}", e.position),
        Field::End => write!(buf, "{}", e.end),
        Field::Index => write!(buf, "{}", e.index),
        Field::File => write!(buf, "{}", e.location.file.name()),
        Field::Frame => match e.location.frame {
            Some(frame) => write!(buf, "{frame}"),
            None => Ok(()),
        },
        Field::Offset => write!(buf, "{}", e.location.offset),
        Field::Line => write!(buf, "{}", e.location.line),
    }
}

/// JSON text without the spaces and newlines a writer may have put in it.
fn compact(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.bytes().any(|b| b == b'\n' || b == b'\r') {
        serde_json::from_str::<serde_json::Value>(raw)
            .map_or_else(|_| raw.into(), |v| v.to_string().into())
    } else {
        raw.into()
    }
}

pub fn log(reader: &EventReader, args: &LogArgs, out: &mut Out) -> io::Result<ExitCode> {
    let filter = match super::filter(&args.filter) {
        Ok(filter) => filter,
        Err(message) => return super::usage(out, &message),
    };
    if let Some(format) = args.format.as_deref()
        && out.json
        && !matches!(format, "jsonl" | "json")
    {
        return super::usage(
            out,
            &format!("--format {format} conflicts with --json, which prints JSON lines"),
        );
    }
    let format = match args.format.as_deref() {
        Some("pretty") => Format::Pretty,
        Some("jsonl") | Some("json") => Format::Jsonl,
        Some(text) => match template(text) {
            Ok(pieces) => Format::Template(pieces),
            Err(message) => return super::usage(out, &message),
        },
        None if out.json || !out.stdout_tty => Format::Jsonl,
        None => Format::Pretty,
    };
    if args.limit == Some(0) {
        return Ok(ExitCode::SUCCESS);
    }
    let printer = Printer {
        format,
        envelope: args.envelope,
    };
    // No bar while following, nor when the events go to the terminal the bar would be on.
    let mut progress = if args.follow || out.stdout_tty {
        out.progress("log", || Err(io::Error::other("no bar")))
    } else {
        out.progress("log", || reader.history_end().map(|p| p.offset()))
    };
    let mut follow = reader.follow(filter.start());
    let stop = filter.stop();
    let mut printed = 0u64;
    let mut tail: VecDeque<Vec<u8>> = VecDeque::new();
    let mut buf = Vec::with_capacity(1 << 10);
    let mut first = true;
    loop {
        let mut write_error = None;
        let mut reached_stop = false;
        let scanned = follow.scan_new(|e| {
            progress.at(e.end.offset());
            if stop.is_some_and(|stop| e.position >= stop) {
                reached_stop = true;
                return ControlFlow::Break(());
            }
            if !filter.matches(e.event, e.position) {
                return ControlFlow::Continue(());
            }
            buf.clear();
            if let Err(err) = printer.print(e, &mut buf) {
                write_error = Some(err);
                return ControlFlow::Break(());
            }
            if let (Some(n), true) = (args.tail, first) {
                if tail.len() == n {
                    tail.pop_front();
                }
                if n > 0 {
                    tail.push_back(buf.clone());
                }
            } else if let Err(err) = out.stdout.write_all(&buf) {
                write_error = Some(err);
                return ControlFlow::Break(());
            }
            printed += 1;
            if args.limit.is_some_and(|n| printed >= n) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        if first {
            progress.finish();
            progress = out.progress("log", || Err(io::Error::other("done")));
        }
        if let Some(err) = write_error {
            return Err(err);
        }
        let scanned = scanned?;
        if first {
            for line in tail.drain(..) {
                out.stdout.write_all(&line)?;
            }
            first = false;
        }
        let limit_reached = args.limit.is_some_and(|n| printed >= n) && scanned.stopped;
        if !args.follow || reached_stop || limit_reached {
            return Ok(ExitCode::SUCCESS);
        }
        out.flush()?;
        while !follow.wait(Duration::from_secs(1))? {}
    }
}

pub fn export(reader: &EventReader, args: &ExportArgs, out: &mut Out) -> io::Result<ExitCode> {
    let filter = match super::filter(&args.filter) {
        Ok(filter) => filter,
        Err(message) => return super::usage(out, &message),
    };
    let mut file = match &args.output {
        Some(path) => {
            if inside(path, reader) {
                return super::usage(
                    out,
                    &format!(
                        "--output {} lies inside the log directory, which eventfold never writes to",
                        path.display()
                    ),
                );
            }
            let file = std::fs::File::create(path).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            })?;
            Some(io::BufWriter::with_capacity(1 << 20, file))
        }
        None => None,
    };
    let mut progress = if file.is_none() && out.stdout_tty {
        out.progress("export", || Err(io::Error::other("no bar")))
    } else {
        out.progress("export", || reader.history_end().map(|p| p.offset()))
    };
    let mut write_error = None;
    let mut buf = Vec::with_capacity(1 << 10);
    let result = reader.scan_filtered(&filter, |e| {
        progress.at(e.end.offset());
        buf.clear();
        let line = e.event.line();
        if args.with_position {
            // `{"position":N,` followed by the rest of the object.
            let open = line.iter().position(|&b| b == b'{').unwrap_or(0);
            let rest = &line[open + 1..];
            let empty = rest.iter().all(|b| b.is_ascii_whitespace() || *b == b'}');
            buf.extend_from_slice(format!("{{\"position\":{}", e.position).as_bytes());
            if !empty {
                buf.push(b',');
            }
            buf.extend_from_slice(rest);
        } else {
            buf.extend_from_slice(line);
        }
        buf.push(b'\n');
        let written = match &mut file {
            Some(file) => file.write_all(&buf),
            None => out.stdout.write_all(&buf),
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(err) => {
                write_error = Some(err);
                ControlFlow::Break(())
            }
        }
    });
    progress.finish();
    // Where the output could not be written: the file of --output, or stdout (which names
    // itself).
    let naming_output = |e: io::Error| match &args.output {
        Some(path) => io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())),
        None => e,
    };
    if let Some(err) = write_error {
        return Err(naming_output(err));
    }
    if let Some(file) = &mut file {
        file.flush().map_err(naming_output)?;
    }
    let end = result?;
    if out.verbose > 0 {
        out.note(&format!(
            "exported {} events, up to position {}",
            end.events, end.end
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `path` would be written inside the reader's directory.
fn inside(path: &std::path::Path, reader: &EventReader) -> bool {
    let Some(dir) = reader.log_path().parent() else {
        return false;
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    match (std::fs::canonicalize(parent), std::fs::canonicalize(dir)) {
        (Ok(parent), Ok(dir)) => parent.starts_with(dir),
        _ => false,
    }
}
