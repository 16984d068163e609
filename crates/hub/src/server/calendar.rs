//! `GET /calendar/<key>.ics`: one person's published shifts as an
//! iCalendar feed (RFC 5545), at a secret address made with `rota --serve
//! --calendar-url STAFF --roster R` (see `accounts::calendars`). The roster
//! is read from its store file on the blocking pool, never through the
//! writer; the feed is what staff see (each date as its last publication
//! left it; a roster that never published, as it is). Its `ETag` is a hash
//! of the body, so a phone asking again with `If-None-Match` gets 304 until
//! the person's feed really changes.

use super::Shared;
use super::http::{Head, respond, respond_with};
use super::stream::HubStream;
use super::writers::Placement;
use rota_script::{Selection, ics};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Where rosters are read from: the store files, and which holds each.
pub struct Feeds {
    placement: Placement,
    files: Vec<PathBuf>,
}

impl Feeds {
    pub fn new(placement: Placement, files: Vec<PathBuf>) -> Feeds {
        Feeds { placement, files }
    }
}

/// A feed as sent: its body and validators.
struct Feed {
    body: String,
    etag: String,
    /// HTTP date of the last publication (or of the last write, when the
    /// roster never published).
    modified: String,
}

pub async fn serve(stream: &mut HubStream, head: &Head, shared: &Shared) {
    let key = head
        .path
        .split('?')
        .next()
        .unwrap_or("")
        .trim_start_matches("/calendar/")
        .trim_end_matches(".ics")
        .to_string();
    let accounts = shared.gate.current();
    let Some((roster, staff)) = accounts
        .calendar(&key)
        .map(|(r, s)| (r.to_string(), s.to_string()))
    else {
        // The same answer for a mistyped, revoked or made-up address.
        let body = "no such calendar: the address is mistyped or was revoked\n";
        respond(stream, 404, "text/plain", body).await;
        return;
    };
    let Some(feeds) = shared.feeds.get() else {
        respond(stream, 503, "text/plain", "the hub is starting\n").await;
        return;
    };
    let file = feeds.files.get(feeds.placement.shard_of(&roster)).cloned();
    let made = tokio::task::spawn_blocking(move || feed(file, &roster, &staff)).await;
    let feed = match made {
        Ok(Ok(feed)) => feed,
        Ok(Err(why)) => {
            tracing::warn!("calendar feed: {why}");
            respond(
                stream,
                503,
                "text/plain",
                "the calendar cannot be read now; try again later\n",
            )
            .await;
            return;
        }
        Err(_) => return,
    };
    let validators = format!(
        "ETag: {}\r\nLast-Modified: {}\r\nCache-Control: private, no-cache\r\n",
        feed.etag, feed.modified
    );
    let unchanged = match (&head.if_none_match, &head.if_modified_since) {
        (Some(tags), _) => tags
            .split(',')
            .any(|t| t.trim() == feed.etag || t.trim() == "*"),
        (None, Some(since)) => *since == feed.modified,
        (None, None) => false,
    };
    if unchanged {
        respond_with(stream, 304, "text/calendar; charset=utf-8", &validators, "").await;
    } else {
        respond_with(
            stream,
            200,
            "text/calendar; charset=utf-8",
            &validators,
            &feed.body,
        )
        .await;
    }
}

/// Reads the roster and writes `staff`'s published shifts.
fn feed(file: Option<PathBuf>, roster: &str, staff: &str) -> Result<Feed, String> {
    let file = file.ok_or("no store file holds the roster")?;
    let loaded = crate::store::load_roster_at(&file, roster).map_err(|e| e.to_string())?;
    let view = loaded.published_view();
    // The stamp of every event: the last publication's time, so the body
    // (and its ETag) changes only when the person's feed does.
    let at = loaded
        .last_publication()
        .map(|p| p.at)
        .unwrap_or_else(|| last_write(&loaded));
    let sel = Selection {
        from: None,
        to: None,
        staff: Some(staff.to_string()),
    };
    let body = ics::export(&view, roster, &sel, at);
    let digest = Sha256::digest(body.as_bytes());
    let etag = format!(
        "\"{}\"",
        digest[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Ok(Feed {
        body,
        etag,
        modified: http_date(at),
    })
}

/// The time of the roster's last written cell (0 when none).
fn last_write(r: &rota_core::domain::Roster) -> i64 {
    r.staff()
        .iter()
        .flat_map(|s| {
            r.row_between(
                &s.id,
                rota_core::domain::Date(chrono::NaiveDate::MIN),
                rota_core::domain::Date(chrono::NaiveDate::MAX),
            )
            .map(|(_, _, st)| st.at)
            .collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0)
}

/// An HTTP date (RFC 9110 5.6.7): `Mon, 07 Dec 2026 11:00:00 GMT`.
fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}
