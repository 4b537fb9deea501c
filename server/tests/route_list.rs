//! Building another router in the same process while pages render never stalls a render.
//! Listing the page routes sets a process-wide flag in leptos_server that stops resources
//! from loading; before the routes were listed once per process, a page rendering at that
//! moment waited forever (the intermittent hang of the HTTP tests).

#[path = "integration/common/mod.rs"]
mod common;
use common::*;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUN_FOR: Duration = Duration::from_secs(30);
/// A page renders in milliseconds; one that takes this long is stuck.
const STUCK: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn routers_built_while_pages_render_never_stall_a_page() {
    let app = Arc::new(TestApp::new(Db::Sqlite).await);
    let session = app.member("ada@example.com").await;
    let until = Instant::now() + RUN_FOR;
    let builder = {
        let (config, clock) = (app.config.clone(), app.clock.clone());
        tokio::spawn(async move {
            let mut built = 0;
            while Instant::now() < until {
                let options = LeptosOptions::builder().output_name("roster").build();
                server::build(config.clone(), options, clock.clone())
                    .await
                    .unwrap();
                built += 1;
            }
            built
        })
    };
    let renderers: Vec<_> = (0..4)
        .map(|_| {
            let (app, session) = (app.clone(), session.clone());
            tokio::spawn(async move {
                let mut rendered = 0;
                while Instant::now() < until {
                    for path in ["/", "/profile", "/team"] {
                        let page =
                            tokio::time::timeout(STUCK, app.get(path).session(&session).send())
                                .await
                                .unwrap_or_else(|_| {
                                    panic!("{path} stalled while another router was being built")
                                });
                        assert_eq!(page.status, 200, "{path}: {}", page.body);
                        rendered += 1;
                    }
                }
                rendered
            })
        })
        .collect();
    let mut rendered = 0;
    for r in renderers {
        rendered += r.await.unwrap();
    }
    let built = builder.await.unwrap();
    assert!(
        built >= 10 && rendered >= 100,
        "too little overlap to prove anything: {built} routers, {rendered} pages"
    );
}
