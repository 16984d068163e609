//! Calendar feeds: a secret address per person and roster, at which the hub
//! serves that person's published shifts as iCalendar (for a phone's
//! calendar to subscribe to). Made, listed and revoked like tokens: the
//! address is shown once, only a hash of its secret is kept, and a revoked
//! one is refused at once by a running hub.

use super::*;

/// Made by the first feed (so an older rota reads the file as before).
const CALENDARS: &str = "
CREATE TABLE IF NOT EXISTS calendars(
    id TEXT PRIMARY KEY,
    hash BLOB NOT NULL,
    roster TEXT NOT NULL,
    staff TEXT NOT NULL,
    created INTEGER NOT NULL,
    revoked INTEGER
) WITHOUT ROWID;
";

/// A feed as the accounts hold it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct CalRec {
    hash: [u8; 32],
    roster: String,
    staff: String,
    revoked: bool,
}

/// A feed as listed (`--list-users`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarInfo {
    pub id: String,
    pub roster: String,
    pub staff: String,
    pub revoked: bool,
}

/// `<id>_<secret>`, as in the feed's address `/calendar/<id>_<secret>.ics`.
fn split_feed(key: &str) -> Option<(&str, &str)> {
    let (id, secret) = key.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, TOKEN_ID_BYTES * 2) && hex(secret, TOKEN_SECRET_BYTES * 2)).then_some((id, secret))
}

impl Accounts {
    /// The (roster, staff id) whose feed `key` (`<id>_<secret>`) is, when it
    /// is a feed of this hub and not revoked. The secret is compared in
    /// constant time.
    pub fn calendar(&self, key: &str) -> Option<(&str, &str)> {
        let (id, secret) = split_feed(key)?;
        let rec = self.calendars.get(id)?;
        (constant_time_eq(&hash_secret(secret), &rec.hash) && !rec.revoked)
            .then_some((rec.roster.as_str(), rec.staff.as_str()))
    }
}

impl AccountsFile {
    /// A new feed of `staff`'s published shifts on `roster`: its key
    /// (`<id>_<secret>`), to be shown once.
    pub fn new_calendar(&mut self, roster: &str, staff: &str) -> Result<String> {
        rota_core::domain::check_roster_name(roster)
            .map_err(|m| AccountsError::Invalid(format!("--roster: {m}")))?;
        rota_core::domain::check_id("--calendar-url", staff).map_err(AccountsError::Invalid)?;
        let id = random_hex(TOKEN_ID_BYTES)?;
        let secret = random_hex(TOKEN_SECRET_BYTES)?;
        self.conn
            .execute_batch(CALENDARS)
            .and_then(|()| {
                self.conn.execute(
                    "INSERT INTO calendars(id, hash, roster, staff, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, hash_secret(&secret).to_vec(), roster, staff, now_ms()],
                )
            })
            .map_err(|e| self.sqlite(e))?;
        Ok(format!("{id}_{secret}"))
    }

    /// Revokes the feed `id` (its public part, the whole key, or the
    /// address: what a person who lost their phone sends). Returns whose it
    /// was, (roster, staff), and whether it was revoked before; Ok(None)
    /// when no feed has that id.
    pub fn revoke_calendar(&mut self, id: &str) -> Result<Option<(String, String, bool)>> {
        let key = id.rsplit('/').next().unwrap_or(id).trim_end_matches(".ics");
        let id = split_feed(key).map_or(key, |(id, _)| id);
        if !self.has_calendars()? {
            return Ok(None);
        }
        let whose: Option<(String, String, bool)> = self
            .conn
            .query_row(
                "SELECT roster, staff, revoked IS NOT NULL FROM calendars WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        if whose.is_some() {
            self.conn
                .execute(
                    "UPDATE calendars SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
                    params![id, now_ms()],
                )
                .map_err(|e| self.sqlite(e))?;
        }
        Ok(whose)
    }

    /// Every feed, by roster, staff and id.
    pub fn calendars(&self) -> Result<Vec<CalendarInfo>> {
        let mut acc = Accounts::default();
        self.load_calendars(&mut acc).map_err(|e| self.sqlite(e))?;
        let mut out: Vec<CalendarInfo> = acc
            .calendars
            .into_iter()
            .map(|(id, r)| CalendarInfo {
                id,
                roster: r.roster,
                staff: r.staff,
                revoked: r.revoked,
            })
            .collect();
        out.sort_by(|a, b| (&a.roster, &a.staff, &a.id).cmp(&(&b.roster, &b.staff, &b.id)));
        Ok(out)
    }

    fn has_calendars(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'calendars'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))
    }

    /// Reads the feeds into `acc` (none when the file has no table yet).
    pub(super) fn load_calendars(&self, acc: &mut Accounts) -> rusqlite::Result<()> {
        let exists: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'calendars'",
            [],
            |r| r.get(0),
        )?;
        if !exists {
            return Ok(());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id, hash, roster, staff, revoked IS NOT NULL FROM calendars")?;
        for row in stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })? {
            let (id, hash, roster, staff, revoked) = row?;
            if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                acc.calendars.insert(
                    id,
                    CalRec {
                        hash,
                        roster,
                        staff,
                        revoked,
                    },
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_is_found_by_its_secret_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = AccountsFile::open_in(dir.path()).unwrap();
        assert!(
            f.load().unwrap().calendar("00_11").is_none(),
            "no table yet"
        );
        let key = f.new_calendar("ward-3", "ann").unwrap();
        let acc = f.load().unwrap();
        assert_eq!(acc.calendar(&key), Some(("ward-3", "ann")));
        let (id, secret) = key.split_once('_').unwrap();
        let wrong = format!("{id}_{}", "0".repeat(secret.len()));
        assert_eq!(acc.calendar(&wrong), None, "another secret");
        assert_eq!(
            f.revoke_calendar(id).unwrap(),
            Some(("ward-3".to_string(), "ann".to_string(), false))
        );
        // Again, by the address: found, and said to be revoked already.
        let address = format!("https://hub.example:8443/calendar/{key}.ics");
        assert_eq!(
            f.revoke_calendar(&address).unwrap(),
            Some(("ward-3".to_string(), "ann".to_string(), true))
        );
        assert_eq!(f.load().unwrap().calendar(&key), None);
        assert_eq!(f.revoke_calendar("ffff").unwrap(), None);
        let listed = f.calendars().unwrap();
        assert_eq!((listed.len(), listed[0].revoked), (1, true));
    }
}
