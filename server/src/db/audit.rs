//! The audit log, written in the same transaction as the change it records.

use super::Conn;
use crate::clock::Millis;

pub struct Entry<'a> {
    pub org_id: Option<i64>,
    pub actor_user_id: Option<i64>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: Option<&'a str>,
    /// The channel, when not the web app: `"api"` (`Actor::channel`).
    pub via: Option<&'a str>,
}

pub async fn record(conn: &mut Conn, e: Entry<'_>, now: Millis) -> sqlx::Result<()> {
    sqlx::query(
        "insert into audit_log (org_id, actor_user_id, action, target, detail, via, created_at) values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.org_id)
    .bind(e.actor_user_id)
    .bind(e.action)
    .bind(e.target)
    .bind(e.detail)
    .bind(e.via)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
