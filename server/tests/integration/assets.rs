//! The built assets and pages as sent: precompressed copies chosen by Accept-Encoding,
//! year-long caching only for names that carry a hash, and pages compressed on the fly.

use crate::common::*;
use leptos::prelude::LeptosOptions;
use std::io::Read;

/// A site folder holding one hashed script with its brotli and gzip copies (their bytes are
/// told apart by content, so the test sees which file was sent).
fn site() -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("roster.Abc123.js"), "plain script ".repeat(100)).unwrap();
    std::fs::write(pkg.join("roster.Abc123.js.br"), "brotli copy").unwrap();
    std::fs::write(pkg.join("roster.Abc123.js.gz"), "gzip copy").unwrap();
    site
}

async fn app(db: Db, site: &tempfile::TempDir, hashed: bool) -> TestApp {
    let options = LeptosOptions::builder()
        .output_name("roster")
        .site_root(site.path().to_str().unwrap())
        .hash_files(hashed)
        .build();
    TestApp::with_options(db, options, |_| {}).await
}

fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
    r.headers.get(name).map(|v| v.to_str().unwrap())
}

on_both!(assets_are_sent_precompressed_as_the_browser_accepts, |db| {
    let site = site();
    let app = app(db, &site, true).await;
    let path = "/pkg/roster.Abc123.js";
    let br = app
        .get(path)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await;
    assert_eq!(br.status, 200);
    assert_eq!(header(&br, "content-encoding"), Some("br"));
    assert_eq!(br.body, "brotli copy");
    assert_eq!(header(&br, "vary"), Some("accept-encoding"));
    assert!(
        header(&br, "content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    let gz = app.get(path).header("accept-encoding", "gzip").send().await;
    assert_eq!(header(&gz, "content-encoding"), Some("gzip"));
    assert_eq!(gz.body, "gzip copy");
    let plain = app.get(path).send().await;
    assert_eq!(header(&plain, "content-encoding"), None);
    assert_eq!(plain.body, "plain script ".repeat(100));
    // Hashed names never change content: cached for a year, not revalidated.
    for r in [&br, &gz, &plain] {
        assert_eq!(
            header(r, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
    // A missing file is not cached at all, nor is anything outside the site served.
    let missing = app.get("/pkg/roster.Old999.js").send().await;
    assert_eq!(missing.status, 404);
    assert_ne!(
        header(&missing, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let outside = app.get("/pkg/../../etc/passwd").send().await;
    assert_ne!(outside.status, 200);
});

on_both!(unhashed_assets_are_checked_again_on_each_use, |db| {
    let site = site();
    let app = app(db, &site, false).await;
    let r = app
        .get("/pkg/roster.Abc123.js")
        .header("accept-encoding", "br")
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "cache-control"), Some("no-cache"));
});

on_both!(pages_and_answers_are_compressed_when_accepted, |db| {
    let app = TestApp::new(db).await;
    let page = app
        .get("/sign-in")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(header(&page, "content-encoding"), Some("gzip"));
    assert_eq!(header(&page, "vary"), Some("accept-encoding"));
    let mut html = String::new();
    flate2::read::GzDecoder::new(&page.bytes[..])
        .read_to_string(&mut html)
        .unwrap();
    assert!(html.contains("Sign In"), "{html}");
    let plain = app.get("/sign-in").send().await;
    assert_eq!(header(&plain, "content-encoding"), None);
    assert!(plain.body.contains("Sign In"));
    // The gateway check is answered as is: nginx reads only its status and headers.
    let check = app
        .get("/gateway/check")
        .header("accept-encoding", "gzip")
        .send()
        .await;
    assert_eq!(header(&check, "content-encoding"), None);
});
