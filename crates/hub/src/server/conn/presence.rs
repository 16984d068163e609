//! `presence`: where this editor's cursor is, relayed to its roster (gathered
//! per roster for a tick by `server::presence`).

use super::*;

impl Conn {
    /// `presence`: where this editor's cursor is, relayed to its roster at
    /// most [`PRESENCE_PER_SECOND`] times a second (the latest wins).
    pub(super) async fn presence(
        &mut self,
        cursor: Option<rota_core::protocol::Cursor>,
    ) -> Result<(), Option<Ending>> {
        if self.member.is_none() {
            return self
                .error(codes::NOT_JOINED, "send hello first".into(), None)
                .await;
        }
        if let Some(why) = self.refusal(Role::Staff, "send presence") {
            return self.forbidden(why, None, None).await;
        }
        let Some(m) = &self.member else {
            return Ok(());
        };
        if let Some(c) = &cursor
            && let Err(e) = rota_core::domain::check_id("cursor.staff", &c.staff)
        {
            return self.error(codes::BAD_MESSAGE, e, None).await;
        }
        if !self.presence_in.allow(PRESENCE_READ_PER_SECOND) {
            Metrics::inc(&self.shared.metrics.reading_paused);
            self.paused_until = Some(self.presence_in.next_second());
        }
        let info = PresenceInfo {
            session: self.session,
            user: m.author.user.to_string(),
            cursor,
        };
        if self.presence_rate.allow(PRESENCE_PER_SECOND) {
            self.relay_presence(info);
        } else {
            self.presence_held = Some(info);
        }
        Ok(())
    }

    /// Tells the roster where this editor's cursor is.
    pub(super) fn relay_presence(&mut self, info: PresenceInfo) {
        let Some(m) = &self.member else {
            return;
        };
        self.shared.set_presence(&m.roster, info.clone());
        let frame = protocol::encode(&ServerMsg::Presence(info)).into();
        self.shared
            .gathered
            .relay(&m.roster, self.session, frame, &m.publish);
    }
}
