//! One pass for all views: how [`EventLog::refresh_all`](crate::EventLog::refresh_all) folds
//! several views while reading and parsing the history once.
//!
//! Parsing is the whole cost of a replay, so views that start from the same place share one
//! fold: each line is parsed once (into an owned [`Event`] if a view needs one, into an
//! [`EventRef`] if a view reads borrowed events) and handed to every view in turn, in
//! registration order. Views that start at different places (a new view replays the whole
//! history while the others only need the latest events) catch up one by one, from the
//! earliest, until they reach the place of the next ones, and then share the rest of the pass.
//! Views that keep checkpoints pause their fold at their own intervals, and fold alone.
//!
//! The views take part through the hidden methods of [`ViewOps`], whose types ([`PassStart`],
//! [`PassItem`], [`Outcome`]) are defined with it in `view.rs`.

use crate::format::chunk::Index;
use crate::format::event::{Event, EventRef};
use crate::format::fold::LineFold;
use crate::format::lines::Line;
use crate::format::parse::ParseError;
use crate::format::trusted;
use crate::format::upcast::{self, Upcastable, Upcasting};
use crate::replay::counted::Count;
use crate::replay::reader::{EventReader, Folded};
use crate::views::report::RefreshReport;
use crate::views::view::{Outcome, PassItem, PassStart, ViewOps};
use std::io;

impl Outcome {
    /// Adds what the fold of the next stretch of the history did.
    fn then<A>(&mut self, folded: &Folded<A>, count: Count) {
        self.count.events += count.events;
        self.count.bytes += count.bytes;
        if folded.tail.is_some() {
            self.tail.clone_from(&folded.tail);
        }
        self.failed_in_archive |= folded.failed_in_archive;
        self.any |= folded.any;
        self.events += folded.events;
        self.max_ts = self.max_ts.then(folded.max_ts);
        if folded.archive_end.is_some() {
            self.archive_end = folded.archive_end;
        }
    }
}

/// Refreshes `views` in one pass where they can share one, and returns each one's report, in
/// registration order, or the first error. As when they are refreshed one by one, a view whose
/// refresh fails saves nothing; the views before it in registration order are refreshed (and
/// save as their policies say).
pub(crate) fn refresh_all(
    reader: &EventReader,
    views: &mut [Box<dyn ViewOps>],
) -> io::Result<Vec<RefreshReport>> {
    let mut starts = Vec::with_capacity(views.len());
    let mut begin_error = None;
    for view in views.iter_mut() {
        match view.pass_begin(reader) {
            Ok(start) => starts.push(start),
            Err(e) => {
                begin_error = Some(e);
                break;
            }
        }
    }
    let begun = starts.len();
    let outcomes = fold_shared(reader, &mut views[..begun], &starts);
    let mut reports = Vec::with_capacity(begun);
    let mut first_error = None;
    for ((view, start), outcome) in views.iter_mut().zip(&starts).zip(outcomes) {
        let report = match start {
            PassStart::Alone => view.refresh_with_report_boxed(reader),
            _ => view.pass_finish(outcome),
        };
        match report {
            Ok(report) => reports.push(report),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error.or(begin_error) {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// Folds the views that share passes, from the earliest start on, each group joining when the
/// fold reaches its start. Returns each view's outcome (empty for those that fold alone).
fn fold_shared(
    reader: &EventReader,
    views: &mut [Box<dyn ViewOps>],
    starts: &[PassStart],
) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = views.iter().map(|_| Outcome::default()).collect();
    // The places views start from, earliest first: the start of the history, then offsets of
    // the active log.
    let place = |start: &PassStart| match *start {
        PassStart::Alone => None,
        PassStart::Full { .. } => Some(None),
        PassStart::Active { offset, .. } => Some(Some(offset)),
    };
    let mut places: Vec<Option<u64>> = starts.iter().filter_map(place).collect();
    places.sort_unstable();
    places.dedup();
    let mut members: Vec<usize> = Vec::new();
    for (k, &from) in places.iter().enumerate() {
        members.extend((0..views.len()).filter(|&i| place(&starts[i]) == Some(from)));
        members.sort_unstable();
        let to = places.get(k + 1).copied().flatten();
        let owned = members.iter().any(|&i| {
            matches!(
                starts[i],
                PassStart::Full { owned: true } | PassStart::Active { owned: true, .. }
            )
        });
        let borrowed = members.iter().any(|&i| {
            matches!(
                starts[i],
                PassStart::Full { owned: false } | PassStart::Active { owned: false, .. }
            )
        });
        let acc = Acc {
            views: views
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| members.contains(i))
                .map(|(_, view)| view)
                .collect(),
            count: Count::default(),
        };
        let folded = match (owned, reader.upcasters_if_any()) {
            (true, None) => fold_stretch(reader, from, to, acc, &Shared::<true> { borrowed }),
            (false, None) => {
                fold_stretch(reader, from, to, acc, &Shared::<false> { borrowed: true })
            }
            (true, Some(upcasters)) => {
                let fold = Upcasting::new(Shared::<true> { borrowed }, upcasters);
                fold_stretch(reader, from, to, acc, &fold)
            }
            (false, Some(upcasters)) => {
                let fold = Upcasting::new(Shared::<false> { borrowed: true }, upcasters);
                fold_stretch(reader, from, to, acc, &fold)
            }
        };
        let failed = folded.error.is_some();
        let count = folded.acc.count;
        let error = folded.error.as_ref().map(copy_error);
        for &i in &members {
            outcomes[i].then(&folded, count);
            if let Some(error) = &error {
                outcomes[i].error = Some(copy_error(error));
            }
        }
        if failed {
            break;
        }
    }
    outcomes
}

/// Folds the history from `from` (`None`: its first event; else an offset of the active log)
/// up to offset `to` of the active log (`None`: its end).
fn fold_stretch<'v, F: LineFold<Acc<'v>>>(
    reader: &EventReader,
    from: Option<u64>,
    to: Option<u64>,
    acc: Acc<'v>,
    fold: &F,
) -> Folded<Acc<'v>> {
    match (from, to) {
        (None, to) => reader.fold_from(0, to, acc, fold, &mut crate::replay::reader::NoPauses),
        (Some(from), None) => reader.fold_active(from, acc, fold),
        (Some(from), Some(to)) => reader.fold_active_range((from, to), acc, fold),
    }
}

/// The same error for another view: eventfold's own errors are copied whole, others by kind
/// and message.
fn copy_error(error: &io::Error) -> io::Error {
    match crate::Error::from_io(error) {
        Some(inner) => inner.clone().into(),
        None => io::Error::new(error.kind(), error.to_string()),
    }
}

/// The views of a pass and what the pass has counted.
struct Acc<'v> {
    views: Vec<&'v mut Box<dyn ViewOps>>,
    count: Count,
}

/// Parses each line once, for every view of the pass: into an owned event when `OWNED`, into
/// a borrowed one when `borrowed`.
struct Shared<const OWNED: bool> {
    borrowed: bool,
}

impl<'v, const OWNED: bool> LineFold<Acc<'v>> for Shared<OWNED> {
    type Item<'b> = (Option<EventRef<'b>>, Option<Event>, u64);
    const OWNS_MEMORY: bool = OWNED;
    const INDEXED: bool = true;

    fn parse<'b>(&self, line: &'b [u8]) -> Result<Self::Item<'b>, ParseError> {
        let event_ref = match self.borrowed {
            true => Some(EventRef::parse_line(line)?),
            false => None,
        };
        let event = match OWNED {
            true => Some(crate::format::parse::event(line)?),
            false => None,
        };
        Ok((event_ref, event, line.len() as u64 + 1))
    }

    #[inline]
    fn parse_in<'b>(
        &self,
        index: Option<&Index<'b>>,
        line: Line<'b>,
    ) -> Result<Self::Item<'b>, ParseError> {
        let Some(stops) = index.and_then(|index| index.stops(line)) else {
            return self.parse(line.bytes);
        };
        let event_ref = match self.borrowed {
            true => Some(
                crate::format::parse::envelope_in(line.bytes, stops)
                    .map(EventRef::from_envelope)?,
            ),
            false => None,
        };
        let event = match OWNED {
            true => Some(crate::format::parse::event_in(line.bytes, stops)?),
            false => None,
        };
        Ok((event_ref, event, line.bytes.len() as u64 + 1))
    }

    // A pass that builds owned events gains nothing from a trusted read.
    const TRUSTS: bool = !OWNED;

    #[inline]
    fn parse_trusted<'b>(&self, line: &'b str) -> Result<Self::Item<'b>, ParseError> {
        self.parse_located(line, trusted::locate_type(line))
    }

    #[inline]
    fn parse_located<'b>(
        &self,
        line: &'b str,
        type_end: Option<usize>,
    ) -> Result<Self::Item<'b>, ParseError> {
        let event_ref = match self.borrowed {
            true => Some(EventRef::parse_located(line, type_end)?),
            false => None,
        };
        let event = match OWNED {
            true => Some(crate::format::parse::event(line.as_bytes())?),
            false => None,
        };
        Ok((event_ref, event, line.len() as u64 + 1))
    }

    #[inline]
    fn reduce(&self, mut acc: Acc<'v>, (event_ref, event, len): &Self::Item<'_>) -> Acc<'v> {
        let item = PassItem {
            event: event.as_ref(),
            event_ref: event_ref.as_ref(),
        };
        for view in &mut acc.views {
            view.pass_fold(&item);
        }
        acc.count.events += 1;
        acc.count.bytes += len;
        acc
    }

    #[inline]
    fn ts(&self, (event_ref, event, _): &Self::Item<'_>) -> u64 {
        match (event_ref, event) {
            (Some(event_ref), _) => event_ref.ts(),
            (None, Some(event)) => event.ts,
            (None, None) => 0,
        }
    }
}

/// Upcast events go to every view of the pass: owned to those that read owned events, as a
/// borrowed event of their line to the others; the pass counts the stored line once.
impl<'v, const OWNED: bool> Upcastable<Acc<'v>> for Shared<OWNED> {
    type Out = (Event, Option<String>);

    #[inline]
    fn event_type<'i>((event_ref, event, _): &'i Self::Item<'_>) -> &'i str {
        match (event_ref, event) {
            (Some(event_ref), _) => event_ref.event_type(),
            (None, Some(event)) => &event.event_type,
            (None, None) => "",
        }
    }

    fn meta_u64((event_ref, event, _): &Self::Item<'_>, key: &str) -> Option<u64> {
        match (event_ref, event) {
            (_, Some(event)) => event.meta.as_ref()?.get(key)?.as_u64(),
            (Some(event_ref), None) => {
                let meta = event_ref.meta_raw()?;
                crate::format::field::get(meta, key).and_then(crate::format::field::as_u64)
            }
            (None, None) => None,
        }
    }

    fn into_event((event_ref, event, _): Self::Item<'_>) -> Event {
        match (event, event_ref) {
            (Some(event), _) => event,
            (None, Some(event_ref)) => event_ref.to_event(),
            // Not reached: a pass parses each line into one or the other.
            (None, None) => Event::new("", serde_json::Value::Null),
        }
    }

    fn out(&self, event: Event) -> Result<Self::Out, String> {
        let line = match self.borrowed {
            true => Some(upcast::line_of(&event)?),
            false => None,
        };
        Ok((event, line))
    }

    #[inline]
    #[allow(clippy::extra_unused_lifetimes)]
    fn event_ref<'i, 'b>((event_ref, _, _): &'i Self::Item<'b>) -> Option<&'i EventRef<'b>>
    where
        // Early-bound, as the trait's lifetime (seen only through `Self::Item`) is.
        'b: 'b,
    {
        event_ref.as_ref()
    }

    fn out_line(&self, line: String) -> Result<Self::Out, String> {
        let event = crate::format::parse::event(line.as_bytes()).map_err(|e| e.to_string())?;
        Ok((event, self.borrowed.then_some(line)))
    }

    fn reduce_upcast(&self, mut acc: Acc<'v>, events: &[Self::Out], len: u64) -> Acc<'v> {
        for (event, line) in events {
            let event_ref = line.as_deref().and_then(upcast::event_ref_of);
            let item = PassItem {
                event: Some(event),
                event_ref: event_ref.as_ref(),
            };
            for view in &mut acc.views {
                view.pass_fold(&item);
            }
        }
        acc.count.events += 1;
        acc.count.bytes += len;
        acc
    }
}
