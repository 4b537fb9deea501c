use crate::components::Frame;
use crate::model::CurrentUser;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Overview · Roster"/>
        <Frame>
            <Overview/>
        </Frame>
    }
}

#[component]
fn Overview() -> impl IntoView {
    let user = expect_context::<CurrentUser>();
    view! {
        <header class="page-header">
            <h1>{format!("Welcome, {}", user.first_name)}</h1>
        </header>
        <section class="card">
            <h2>{user.org_name.clone()}</h2>
            <dl class="facts">
                <dt>"Your role"</dt><dd>{user.role.clone()}</dd>
                <dt>"Signed in as"</dt><dd>{user.email.clone()}</dd>
            </dl>
        </section>
    }
}
