//! `history` and `list_rosters`: reads, answered by the read pool so that
//! no read ever waits behind the writer.

use super::*;

impl Conn {
    /// `history`: a cell's, a person's or a date's changes, read by the
    /// read pool.
    pub(super) async fn history(
        &mut self,
        req: Option<u64>,
        query: rota_core::protocol::HistoryQuery,
    ) -> Result<(), Option<Ending>> {
        let Some(m) = &self.member else {
            return self
                .error_about(codes::NOT_JOINED, "send hello first".into(), None, req)
                .await;
        };
        if let Err(m) = query.check() {
            return self.error_about(codes::BAD_MESSAGE, m, None, req).await;
        }
        let (roster, view) = (m.roster.clone(), m.view);
        if let Some(why) = self.history_refusal(&query) {
            return self.forbidden(why, None, req).await;
        }
        let shard = self.writers.store_of(&roster);
        let what = ReadWhat::History {
            roster,
            shard,
            query,
            view,
        };
        self.send_to_readers(what, req).await
    }

    /// `list_rosters`: the rosters this connection may open.
    pub(super) async fn list_rosters(&mut self, req: Option<u64>) -> Result<(), Option<Ending>> {
        let visible = auth::visible_rosters(&self.shared.gate.current(), self.who.as_ref());
        self.send_to_readers(ReadWhat::ListRosters { visible }, req)
            .await
    }
}
