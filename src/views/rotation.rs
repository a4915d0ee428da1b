//! The views' part of a rotation: [`EventWriter::rotate`] refreshes every view, has the store
//! rotate the files, then resets the views' offsets and retires the other snapshots.

use crate::replay::reader::EventReader;
use crate::store::snapshot;
use crate::store::writer::EventWriter;
use crate::views::view::ViewOps;
use std::collections::HashMap;
use std::io;

// The writer's rotation with views lives here, with the views, so that the writer does not
// import the views layer above it; the writer rotates only the files (`rotate_files`). The
// order of the steps is the crash-safety contract of a rotation: every view is refreshed (and
// its snapshot synced) before the active log is archived, and the views are reset only once
// the files are rotated.
impl EventWriter {
    /// Rotates the active log into the archive.
    ///
    /// In order: refreshes every view in `views` (so each snapshot includes the whole active
    /// log); compresses the active log into zstd frames of at most 4 MiB of content, on as
    /// many threads as `reader` replays on ([`EventReader::replay_threads`]), and
    /// appends them to `archive.jsonl.zst`; replaces `app.jsonl` with an empty file (by rename, never by
    /// truncation, so readers holding a map of the old file are unaffected); sets every view's
    /// snapshot to offset 0. Snapshots of views not in `views` that can no longer be placed are
    /// deleted, so those views rebuild. Does nothing when the active log is empty. Blocks until
    /// done; each step is synced, and a crash at any point is repaired by the next open.
    ///
    /// # Errors
    ///
    /// Returns an error if a view cannot be refreshed or if reading, compressing, writing or
    /// syncing fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eventfold::{Event, EventWriter};
    /// use std::collections::HashMap;
    /// let mut writer = EventWriter::open(dir.path())?;
    /// writer.append(&Event::new("a", serde_json::json!({})))?;
    /// let reader = writer.reader();
    /// writer.rotate(&reader, &mut HashMap::new())?;
    /// assert_eq!(writer.active_log_size()?, 0);
    /// assert!(writer.archive_path().exists());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn rotate(
        &mut self,
        reader: &EventReader,
        views: &mut HashMap<String, Box<dyn ViewOps>>,
    ) -> io::Result<()> {
        self.rotate_views(reader, views.values_mut())
    }

    pub(crate) fn rotate_views<'v, I>(&mut self, reader: &EventReader, views: I) -> io::Result<()>
    where
        I: IntoIterator<Item = &'v mut Box<dyn ViewOps>>,
    {
        self.check_poisoned()?;
        let mut views: Vec<&'v mut Box<dyn ViewOps>> = views.into_iter().collect();
        for view in views.iter_mut() {
            view.refresh_boxed(reader)?;
        }
        let Some(record) = self.rotate_files(reader.threads())? else {
            return Ok(());
        };
        let mut names = Vec::with_capacity(views.len());
        for view in views.iter_mut() {
            view.reset_offset()?;
            names.push(view.view_name().to_string());
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        snapshot::retire_after_rotation(
            self.views_dir(),
            record.active_len,
            &record.last_line_hash,
            &names,
        )
    }
}
