//! `GET /events`: a server-sent event stream that says "team" whenever the team of the
//! signed-in user's organization changes. Pages refetch what they show; the stream carries
//! no data, but it is for those who may see the team (`REQUIREMENT`), and it ends once the
//! session no longer may (signed out, disabled, removed, or a role without Team access).

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
use tokio::sync::broadcast::error::RecvError;

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
    let receiver = state.events.subscribe();
    let accounts = state.services.accounts.clone();
    let events = state.events.clone();
    let stream = futures::stream::unfold(receiver, move |mut rx| {
        let (accounts, token, events) = (accounts.clone(), token.clone(), events.clone());
        async move {
            loop {
                let next = tokio::select! {
                    // A shutting-down server ends the stream; the browser reconnects elsewhere.
                    () = events.stopped() => return None,
                    next = rx.recv() => next,
                };
                match next {
                    Ok(e) if e.org_id != org_id => continue,
                    // (Lagged: missed some; one refetch covers them all.)
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
                // Still a member of this organization who may see the team?
                match accounts.authenticate(&token).await {
                    Ok(Some(a)) if a.org_id == org_id && a.meets(REQUIREMENT).is_ok() => {
                        return Some((Ok(Event::default().event("team").data("changed")), rx));
                    }
                    _ => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
