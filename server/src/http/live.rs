//! `GET /events`: a server-sent event stream that says "team" with the team's new version
//! whenever the team of the signed-in user's organization changes, at most one every
//! `FEED_INTERVAL` or longer (`crate::events::feeds`), and the time in milliseconds over which
//! pages should spread their refetches ("team" / "42 250"). Pages refetch what they show when
//! it is newer than theirs, after a random part of that time; the stream carries nothing else,
//! but it is for those who may see the team (`REQUIREMENT`), and it ends once the session no
//! longer may (signed out, disabled, removed, or a role without Team access).

use super::AppState;
use app::authz::{Feature, Level, Requirement};
use app::ports::RequestMeta;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use std::convert::Infallible;
use std::time::Duration;

/// Team Management: View, like the Team page.
pub const REQUIREMENT: Requirement = Requirement::feature(Feature::TeamManagement, Level::View);

pub async fn events(
    State(state): State<AppState>,
    Extension(meta): Extension<RequestMeta>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, StatusCode> {
    let token = meta.session_token.ok_or(StatusCode::UNAUTHORIZED)?;
    let actor = meta.actor.ok_or(StatusCode::UNAUTHORIZED)?;
    if actor.meets(REQUIREMENT).is_err() {
        return Err(StatusCode::FORBIDDEN);
    }
    let org_id = actor.org_id;
    let feed = state.events.feed(org_id).await.map_err(|e| {
        tracing::error!(error = %e, "read team version");
        StatusCode::INTERNAL_SERVER_ERROR
    })?;
    let accounts = state.services.accounts.clone();
    let events = state.events.clone();
    // The first event names the version now; a resync counts from then on.
    let stream = futures::stream::unfold((feed, None), move |(mut feed, resyncs)| {
        let (accounts, token, events) = (accounts.clone(), token.clone(), events.clone());
        async move {
            let changed = tokio::select! {
                // A shutting-down server ends the stream; the browser reconnects elsewhere.
                () = events.stopped() => return None,
                changed = feed.changed() => changed,
            };
            changed.ok()?;
            let update = *feed.borrow_and_update();
            // Still a member of this organization who may see the team?
            match accounts.authenticate(&token).await {
                Ok(Some(a)) if a.org_id == org_id && a.meets(REQUIREMENT).is_ok() => {}
                _ => return None,
            }
            // The version, for the page to compare with the one it shows; "resync" when
            // changes may have been missed.
            let version = if resyncs.is_some_and(|r| r != update.resyncs) {
                "resync".to_owned()
            } else {
                update.version.to_string()
            };
            let data = format!("{version} {}", update.spread.as_millis());
            let event = Event::default().event("team").data(data);
            Some((Ok(event), (feed, Some(update.resyncs))))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Analytics: View, like the Usage page.
pub const USAGE_REQUIREMENT: Requirement = Requirement::feature(Feature::Analytics, Level::View);
/// The least time between two "usage" events of one stream: while calls arrive, an open
/// Usage page reads its figures again at most this often.
pub const USAGE_EVERY: Duration = Duration::from_secs(5);

/// `GET /events/usage`: "usage" each time the organization's gateway counts were written (at
/// most one every `USAGE_EVERY`), for open Usage pages to read their figures again. It ends
/// once the session no longer may see usage.
pub async fn usage_events(
    State(state): State<AppState>,
    Extension(meta): Extension<RequestMeta>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, StatusCode> {
    let token = meta.session_token.ok_or(StatusCode::UNAUTHORIZED)?;
    let actor = meta.actor.ok_or(StatusCode::UNAUTHORIZED)?;
    if actor.meets(USAGE_REQUIREMENT).is_err() {
        return Err(StatusCode::FORBIDDEN);
    }
    let org_id = actor.org_id;
    let written = state.events.usage_written.subscribe(org_id);
    let accounts = state.services.accounts.clone();
    let events = state.events.clone();
    let stream = futures::stream::unfold((written, false), move |(mut written, sent)| {
        let (accounts, token, events) = (accounts.clone(), token.clone(), events.clone());
        async move {
            if sent {
                tokio::select! {
                    () = events.stopped() => return None,
                    () = tokio::time::sleep(USAGE_EVERY) => {}
                }
            }
            tokio::select! {
                () = events.stopped() => return None,
                changed = written.changed() => changed.ok()?,
            }
            let writes = *written.borrow_and_update();
            match accounts.authenticate(&token).await {
                Ok(Some(a)) if a.org_id == org_id && a.meets(USAGE_REQUIREMENT).is_ok() => {}
                _ => return None,
            }
            // Browsers drop an event without data: it carries the writes heard so far.
            let event = Event::default().event("usage").data(writes.to_string());
            Some((Ok(event), (written, true)))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
