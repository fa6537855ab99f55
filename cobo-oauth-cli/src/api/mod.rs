//! `cobo-oauth api METHOD PATH`: any operation of Cobo's official spec (embedded; `--spec`
//! for another), checked against the spec before anything is sent, signed, with an
//! organization's Bearer token from a token store when the operation takes one, the answer
//! verified and printed as JSON.

mod check;
mod spec;

use std::path::PathBuf;
use std::time::Duration;

use cobo_oauth::runtime::Operation;
use serde_json::{Value, json};

use crate::args::Global;
use crate::run::{CliError, StdinOnce, client, print_json};
use spec::{OFFICIAL_SPEC, Op, Spec};

/// `api` arguments.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// The HTTP method: GET, POST, PUT, DELETE.
    #[arg(required_unless_present_any = ["list", "describe"])]
    method: Option<String>,
    /// The path below the base URL, with its parameters filled in, e.g. /wallets/<wallet id>
    /// (a leading /v2 is dropped).
    #[arg(required_unless_present_any = ["list", "describe"])]
    path: Option<String>,
    /// A query parameter, KEY=VALUE; repeat for more. Checked against the operation's.
    #[arg(long = "param", short = 'q', value_name = "KEY=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// The JSON body, @FILE to read it from a file, or - for standard input. Its top-level
    /// properties are checked against the operation's.
    #[arg(long, value_name = "JSON|@FILE|-")]
    body: Option<String>,
    /// A file of a multipart/form-data operation (upload_payment_file): PATH for the field
    /// `file`, or FIELD=PATH; repeat for more. Sent as Cobo's Python SDK sends and signs it.
    /// A regular file; all of them together at most 20 MiB.
    #[arg(long = "file", value_name = "[FIELD=]PATH", conflicts_with = "body")]
    files: Vec<String>,
    /// The content type of the --file parts.
    #[arg(
        long,
        value_name = "MEDIA_TYPE",
        default_value = "application/octet-stream"
    )]
    file_type: String,
    /// List the spec's operations (method, path, operationId, summary, Bearer).
    #[arg(long, conflicts_with_all = ["method", "path", "describe"])]
    list: bool,
    /// Show the operations at PATH (a template such as /wallets/{wallet_id}, or a concrete
    /// path) with their path and query parameters and body properties.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["method", "path"])]
    describe: Option<String>,
    /// Another spec (YAML or JSON) instead of the embedded official one (v1.42.0).
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// The app's client ID, for the Bearer token of --org-id from --store.
    #[arg(long, env = "COBO_CLIENT_ID")]
    client_id: Option<String>,
    /// The organization on whose behalf to call an operation that takes an Org Access Token.
    #[arg(long)]
    org_id: Option<String>,
    /// The token store holding --org-id's pair, as `tokens` takes it: a directory or a
    /// redis:// or rediss:// URL. The token is renewed and saved as `tokens grant` saves.
    /// Without it, requests carry no Bearer token (an organization's own API key needs none).
    #[arg(
        long,
        env = "COBO_TOKEN_STORE",
        hide_env_values = true,
        value_name = "DIR|URL"
    )]
    store: Option<String>,
}

fn parse_param(pair: &str) -> Result<(String, String), String> {
    pair.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {pair:?}"))
}

/// Runs `api`.
pub async fn run(global: &Global, args: ApiArgs) -> Result<(), CliError> {
    let text = match &args.spec {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?,
        None => OFFICIAL_SPEC.to_owned(),
    };
    let spec = Spec::parse(&text)?;
    if args.list {
        return print_json(&Value::Array(spec.ops.iter().map(summary).collect()));
    }
    if let Some(path) = &args.describe {
        return print_json(&describe(&spec, path)?);
    }
    let (Some(method), Some(path)) = (&args.method, &args.path) else {
        return Err(CliError::Usage(
            "give METHOD PATH, --list or --describe PATH".to_owned(),
        ));
    };
    let op = check::operation(&spec, method, path)?;
    check::query(op, &args.params)?;
    let mut stdin = StdinOnce::default();
    let body = if check::takes_form(op) {
        if args.body.is_some() {
            return Err(CliError::Usage(format!(
                "{} {} takes a multipart form: give --file, not --body",
                op.method, op.path
            )));
        }
        let form = check::form(op, &args.files, &args.file_type)?;
        let bytes = form.encode().map_err(|e| CliError::Usage(e.to_string()))?;
        Some((form.content_type(), reqwest::Body::from(bytes)))
    } else {
        if !args.files.is_empty() {
            return Err(CliError::Usage(format!(
                "{} {} takes no file (--file is for multipart operations)",
                op.method, op.path
            )));
        }
        let body_text = body_text(global, args.body.as_deref())?;
        check::body(op, body_text.as_deref())?
            .map(|json| ("application/json".to_owned(), reqwest::Body::from(json)))
    };
    let client = client(global, &mut stdin)?;

    let request = request(client.env().base_url(), op, path, &args.params, body)?;
    let operation = Operation {
        id: op.id.clone().leak(),
        method: op.method.clone().leak(),
        path: op.path.clone().leak(),
        accepts_oauth2: op.accepts_oauth2,
    };
    let (Some(store), true) = (&args.store, op.accepts_oauth2) else {
        let answer: Value = client.send_request(request, operation).await?;
        return print_json(&answer);
    };
    let (Some(client_id), Some(org_id)) = (args.client_id, args.org_id) else {
        return Err(CliError::Usage(format!(
            "{} {} takes an Org Access Token: give --client-id and --org-id with --store",
            op.method, op.path
        )));
    };
    let save_retry = Duration::from_secs(crate::tokens::DEFAULT_SAVE_RETRY_SECS);
    let (tokens, store) =
        crate::tokens::org_tokens(client.clone(), client_id, store, save_retry).await?;
    let answer = client
        .for_org(&tokens, org_id.clone())
        .send_request::<Value>(request, operation)
        .await;
    // A renewal whose new pair could not be saved: the pair printed (it is in no store), exit
    // 1. The call ran: its answer is printed first (a user who saw only the exit might send a
    // transfer again), or its error said.
    if store.unsaved(&org_id).is_some() {
        let ran = match &answer {
            Ok(answer) => print_json(answer)
                .map(|()| "the call's answer is printed on standard output, the pair after it"),
            Err(error) => {
                eprintln!("error: {error}");
                Ok("the call failed too")
            }
        };
        let said = match ran {
            Ok(said) => format!("the store failed; {said}"),
            Err(error) => {
                format!("the store failed; the call's answer could not be printed: {error}")
            }
        };
        if let Some(unsaved) = crate::tokens::unsaved_pair(&store, &org_id, &said) {
            return Err(unsaved);
        }
    }
    print_json(&answer?)
}

/// `--body`: the text itself, a file's (`@FILE`), or standard input's (`-`).
fn body_text(global: &Global, body: Option<&str>) -> Result<Option<String>, CliError> {
    match body {
        None => Ok(None),
        Some("-") => {
            if global.api_secret.as_deref() == Some("-") {
                return Err(CliError::Usage(
                    "--api-secret already reads standard input; give --body another way".to_owned(),
                ));
            }
            std::io::read_to_string(std::io::stdin())
                .map(Some)
                .map_err(|e| {
                    CliError::Other(format!("cannot read the body from standard input: {e}"))
                })
        }
        Some(text) => match text.strip_prefix('@') {
            Some(file) => std::fs::read_to_string(file)
                .map(Some)
                .map_err(|e| CliError::Usage(format!("cannot read the body from {file}: {e}"))),
            None => Ok(Some(text.to_owned())),
        },
    }
}

/// The request of `op` at `path` (concrete), below `base_url`, with `body` (its content type
/// and bytes).
fn request(
    base_url: &str,
    op: &Op,
    path: &str,
    params: &[(String, String)],
    body: Option<(String, reqwest::Body)>,
) -> Result<reqwest::Request, CliError> {
    let api_path = check::api_path(path);
    let parse = |url: &str| {
        reqwest::Url::parse(url).map_err(|e| CliError::Usage(format!("the URL of {path}: {e}")))
    };
    let base = base_url.trim_end_matches('/');
    let mut url = parse(&format!("{base}{api_path}"))?;
    // The path checked is the path sent: the parser resolved no segment away (see
    // `check::operation`, which refuses what it would rewrite).
    let count = |url: &reqwest::Url| {
        url.path_segments()
            .map_or(0, |s| s.filter(|s| !s.is_empty()).count())
    };
    let given = api_path.split('/').filter(|s| !s.is_empty()).count();
    if count(&url) != count(&parse(base)?) + given {
        return Err(CliError::Usage(format!(
            "{path} would not be sent as given ({})",
            url.path()
        )));
    }
    if !params.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    let method = reqwest::Method::from_bytes(op.method.as_bytes())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut request = reqwest::Request::new(method, url);
    let headers = request.headers_mut();
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    if let Some((content_type, body)) = body {
        let content_type = http::HeaderValue::from_str(&content_type)
            .map_err(|e| CliError::Usage(format!("the content type {content_type:?}: {e}")))?;
        headers.insert(http::header::CONTENT_TYPE, content_type);
        *request.body_mut() = Some(body);
    }
    Ok(request)
}

/// One line of `--list`.
fn summary(op: &Op) -> Value {
    json!({
        "method": op.method,
        "path": op.path,
        "operation_id": op.id,
        "summary": op.summary,
        "bearer": op.accepts_oauth2,
    })
}

/// `--describe PATH`: the operations at the template `path`, or those a concrete path calls.
fn describe(spec: &Spec, path: &str) -> Result<Value, CliError> {
    let wanted = check::api_path(path);
    let mut ops: Vec<&Op> = spec.ops.iter().filter(|op| op.path == wanted).collect();
    if ops.is_empty() {
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if let Ok(op) = check::operation(spec, method, path) {
                ops.push(op);
            }
        }
    }
    if ops.is_empty() {
        // The same refusal, with the valid paths, as a call to it.
        check::operation(spec, "GET", path)?;
    }
    let params = |op: &Op, location: &str| -> Value {
        op.params
            .iter()
            .filter(|p| p.location == location)
            .map(|p| {
                json!({
                    "name": p.name,
                    "required": p.required,
                    "type": p.schema.get("type"),
                    "enum": p.schema.get("enum"),
                    "description": p.description,
                })
            })
            .collect()
    };
    Ok(ops
        .into_iter()
        .map(|op| {
            let mut described = summary(op);
            described["path_parameters"] = params(op, "path");
            described["query_parameters"] = params(op, "query");
            described["body"] = op.body.as_ref().map_or(Value::Null, |b| {
                json!({
                    "media_type": b.media_type,
                    "required": b.required,
                    "properties": b.properties,
                    "required_properties": b.required_properties,
                })
            });
            described
        })
        .collect())
}
