//! `GET /calendar/<key>.ics`: one person's published shifts as an
//! iCalendar feed (RFC 5545), at a secret address made with `rota --serve
//! --calendar-url STAFF --roster R` (see `accounts::calendars`). The roster
//! is read from its store file on the blocking pool, never through the
//! writer; the feed is what staff see (each date as its last publication
//! left it; a roster that never published, as it is). Its `ETag` is a hash
//! of the body, so a phone asking again with `If-None-Match` gets 304 until
//! the person's feed really changes.

use super::Shared;
use super::http::{Head, respond, respond_head};
use super::stream::HubStream;
use super::writers::Placement;
use crate::store::Place;
use rota_script::{Selection, ics};
use sha2::{Digest, Sha256};

/// Where rosters are read from: the stores, and which holds each.
pub struct Feeds {
    placement: Placement,
    places: Vec<Place>,
}

impl Feeds {
    pub fn new(placement: Placement, places: Vec<Place>) -> Feeds {
        Feeds { placement, places }
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
    let whose = |a: &crate::accounts::Accounts| {
        a.calendar(&key)
            .map(|(r, s)| (r.to_string(), s.to_string()))
    };
    let mut found = whose(&shared.gate.current());
    if found.is_none() {
        // Perhaps a feed made a moment ago: the file, read again (as for
        // a token).
        let gate = shared.gate.clone();
        if let Ok(fresh) = tokio::task::spawn_blocking(move || gate.fresh()).await {
            found = whose(&fresh);
        }
    }
    let Some((roster, staff)) = found else {
        // The same answer for a mistyped, revoked or made-up address.
        let body = "no such calendar: the address is mistyped or was revoked\n";
        respond(stream, 404, "text/plain", body).await;
        return;
    };
    let Some(feeds) = shared.feeds.get() else {
        respond(stream, 503, "text/plain", "the hub is starting\n").await;
        return;
    };
    let place = feeds.places.get(feeds.placement.store_of(&roster)).cloned();
    let made = tokio::task::spawn_blocking(move || feed(place, &roster, &staff)).await;
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
    // A weak validator (W/"…") matches too: If-None-Match compares weakly
    // (RFC 9110 13.1.2).
    let unchanged = match (&head.if_none_match, &head.if_modified_since) {
        (Some(tags), _) => tags.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == feed.etag
        }),
        (None, Some(since)) => *since == feed.modified,
        (None, None) => false,
    };
    let with_body = head.method != "HEAD";
    let kind = "text/calendar; charset=utf-8";
    if unchanged {
        respond_head(stream, 304, kind, &validators, "", false).await;
    } else {
        respond_head(stream, 200, kind, &validators, &feed.body, with_body).await;
    }
}

/// Reads the roster and writes `staff`'s published shifts.
fn feed(place: Option<Place>, roster: &str, staff: &str) -> Result<Feed, String> {
    let place = place.ok_or("no store holds the roster")?;
    let loaded = crate::store::load_roster_at(&place, roster).map_err(|e| e.to_string())?;
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
    // The ETag leaves out what a publication that changed nothing of this
    // person's changes all the same (each event's stamp and version): a
    // phone asking again is told 304 until a shift of theirs changes.
    let mut hasher = Sha256::new();
    for line in body.split("\r\n") {
        if !(line.starts_with("DTSTAMP:") || line.starts_with("SEQUENCE:")) {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
    }
    let digest = hasher.finalize();
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
