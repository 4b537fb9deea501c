//! `/api/docs`: the API reference as a page, rendered on the server from the OpenAPI document
//! and the requirement table (no script, nothing from another site), styled by the app's own
//! stylesheet.

use super::operations;
use app::authz::{Need, Requirement};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
struct Tag {
    name: String,
    description: String,
    operations: Vec<Operation>,
}

#[derive(Serialize)]
struct Operation {
    anchor: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    needs: String,
    parameters: Vec<Field>,
    body: Option<Body>,
    responses: Vec<Answer>,
}

#[derive(Serialize)]
struct Field {
    name: String,
    place: String,
    required: bool,
    kind: Kind,
    description: String,
}

/// A type as words, with the schema it names, if any, to link to.
#[derive(Serialize)]
struct Kind {
    text: String,
    schema: Option<String>,
}

#[derive(Serialize)]
struct Body {
    kind: Kind,
    example: Option<String>,
}

#[derive(Serialize)]
struct Answer {
    status: String,
    description: String,
    kind: Option<Kind>,
}

#[derive(Serialize)]
struct Schema {
    name: String,
    description: String,
    fields: Vec<Field>,
    values: Vec<String>,
}

/// The words for what a requirement needs.
fn needs(requirement: Requirement) -> String {
    match requirement {
        Requirement::Public => "Anyone".into(),
        Requirement::SignedIn | Requirement::Member => "Any member".into(),
        Requirement::Owner => "The Owner".into(),
        Requirement::Feature(feature, Need::At(level)) => {
            format!("{}: {}", feature.label(), level.label())
        }
        Requirement::Feature(feature, Need::Download) => format!("{}: Download", feature.label()),
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The type of a schema in words: a named schema, a list of one, a choice of values.
fn kind(schema: &Value) -> Kind {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r).to_owned();
        return Kind {
            text: name.clone(),
            schema: Some(name),
        };
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values.iter().map(text).collect();
        return Kind {
            text: format!("one of {}", values.join(", ")),
            schema: None,
        };
    }
    if let Some(all) = schema["allOf"].as_array().or(schema["oneOf"].as_array())
        && let Some(first) = all.iter().find(|s| s["type"] != "null")
    {
        return kind(first);
    }
    let types: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts.iter().map(text).collect(),
        _ => vec![],
    };
    let main = types
        .iter()
        .find(|t| *t != "null")
        .cloned()
        .unwrap_or_default();
    let nullable = types.iter().any(|t| t == "null");
    let inner = match main.as_str() {
        "array" => {
            let item = kind(&schema["items"]);
            Kind {
                text: format!("list of {}", item.text),
                schema: item.schema,
            }
        }
        "object" if schema["additionalProperties"].is_object() => {
            let item = kind(&schema["additionalProperties"]);
            Kind {
                text: format!("map of {}", item.text),
                schema: item.schema,
            }
        }
        _ => {
            let mut t = main;
            if let Some(f) = schema["format"].as_str() {
                t = format!("{t} ({f})");
            }
            if let Some(p) = schema["pattern"].as_str() {
                t = format!("{t} matching {p}");
            }
            Kind {
                text: t,
                schema: None,
            }
        }
    };
    if nullable {
        Kind {
            text: format!("{} or null", inner.text),
            ..inner
        }
    } else {
        inner
    }
}

fn schema_of(content: &Value) -> Option<&Value> {
    content
        .get("content")?
        .get("application/json")?
        .get("schema")
}

fn anchor(method: &str, path: &str) -> String {
    let mut a = format!("{method}-{path}");
    a.retain(|c| c.is_ascii_alphanumeric() || c == '-');
    a
}

fn page_data(doc: &Value) -> (Vec<Tag>, Vec<Schema>) {
    let table = operations();
    let mut tags: Vec<Tag> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Tag {
            name: text(&t["name"]),
            description: text(&t["description"]),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "patch", "delete"] {
            let op = &item[method];
            if !op.is_object() {
                continue;
            }
            let upper = method.to_uppercase();
            let requirement = table
                .iter()
                .find(|(m, p, _)| m.as_str() == upper && p == path)
                .map(|(_, _, r)| *r);
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Field {
                    name: text(&p["name"]),
                    place: text(&p["in"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    kind: kind(&p["schema"]),
                    description: text(&p["description"]),
                })
                .collect();
            let body = schema_of(&op["requestBody"]).map(|s| {
                let kind = kind(s);
                let example = kind
                    .schema
                    .as_ref()
                    .map(|name| &doc["components"]["schemas"][name]["example"])
                    .filter(|e| !e.is_null())
                    .and_then(|e| serde_json::to_string_pretty(e).ok());
                Body { kind, example }
            });
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| Answer {
                    status: status.clone(),
                    description: text(&r["description"]),
                    kind: schema_of(r).map(kind),
                })
                .collect();
            let operation = Operation {
                anchor: anchor(method, path),
                method: upper,
                path: path.clone(),
                summary: text(&op["summary"]),
                description: text(&op["description"]),
                needs: requirement.map(needs).unwrap_or_default(),
                parameters,
                body,
                responses,
            };
            let tag = op["tags"][0].as_str().unwrap_or_default();
            if let Some(t) = tags.iter_mut().find(|t| t.name == tag) {
                t.operations.push(operation);
            }
        }
    }
    let schemas = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| {
            let required: Vec<String> = s["required"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            Schema {
                name: name.clone(),
                description: text(&s["description"]),
                fields: s["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(field, p)| Field {
                        name: field.clone(),
                        place: String::new(),
                        required: required.contains(field),
                        kind: kind(p),
                        description: text(&p["description"]),
                    })
                    .collect(),
                values: s["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect(),
            }
        })
        .collect();
    (tags, schemas)
}

const TEMPLATE: &str = include_str!("docs.html");

/// A description as HTML: escaped, with `backticked` words as code.
fn prose(text: String) -> minijinja::Value {
    let mut html = String::with_capacity(text.len() + 16);
    for (i, part) in text.split('`').enumerate() {
        let escaped = part
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        if i % 2 == 1 {
            html.push_str(&format!("<code>{escaped}</code>"));
        } else {
            html.push_str(&escaped);
        }
    }
    minijinja::Value::from_safe_string(html)
}

/// The rendered page, made once.
fn rendered() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        let doc = serde_json::to_value(super::document()).unwrap_or_default();
        let (tags, schemas) = page_data(&doc);
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.add_filter("prose", prose);
        let rendered = env.template_from_str(TEMPLATE).and_then(|t| {
            t.render(minijinja::context! {
                title => text(&doc["info"]["title"]),
                version => text(&doc["info"]["version"]),
                description => text(&doc["info"]["description"]),
                tags => tags,
                schemas => schemas,
            })
        });
        rendered.unwrap_or_else(|e| {
            tracing::error!(error = %e, "render the API reference");
            "<!DOCTYPE html><html lang=\"en\"><title>Roster API</title><p>The reference could not be shown.</p></html>".into()
        })
    })
}

pub async fn page() -> Html<&'static str> {
    Html(rendered())
}

/// The design system's stylesheet, for this page (the app's is under a hashed name).
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../../style/main.css"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_on_the_page_with_what_it_needs() {
        let page = rendered();
        for (method, path, requirement) in operations() {
            let a = anchor(&method.as_str().to_lowercase(), path);
            assert!(page.contains(&format!("id=\"{a}\"")), "{method} {path}");
            assert!(page.contains(&needs(requirement)), "{method} {path}");
        }
        assert!(!page.contains("<script"), "the page runs no script");
    }

    #[test]
    fn prose_escapes_and_marks_code() {
        assert_eq!(
            prose("Use `a<b>` & \"c\"".into()).to_string(),
            "Use <code>a&lt;b&gt;</code> &amp; &quot;c&quot;"
        );
    }

    #[test]
    fn types_read_as_words() {
        let k = kind(&serde_json::json!({"type": ["string", "null"]}));
        assert_eq!(k.text, "string or null");
        let k = kind(
            &serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/Member"}}),
        );
        assert_eq!(
            (k.text.as_str(), k.schema.as_deref()),
            ("list of Member", Some("Member"))
        );
        let k = kind(&serde_json::json!({"type": "string", "enum": ["a", "b"]}));
        assert_eq!(k.text, "one of a, b");
    }
}
