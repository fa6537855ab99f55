//! Checks a call against the spec: the operation of a method and path, its query parameters and
//! its JSON body. Every refusal lists what is valid.

use serde_json::Value;

use super::spec::{Op, Param, Spec};
use crate::run::CliError;

/// The segments of a path, without the base URL's `/v2` prefix.
fn segments(path: &str) -> Vec<&str> {
    let path = path.strip_prefix("/v2/").map_or(path, |rest| rest);
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

fn is_template(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

/// How well `path` (concrete) fits `template`: the count of literal segments, when it fits.
fn fit(template: &str, path: &[&str]) -> Option<usize> {
    let template = segments(template);
    if template.len() != path.len() {
        return None;
    }
    let mut literal = 0;
    for (t, p) in template.iter().zip(path) {
        if is_template(t) {
            continue;
        }
        if t != p {
            return None;
        }
        literal += 1;
    }
    Some(literal)
}

/// The path below the base URL, as it will be sent: `/wallets/abc` (a leading `/v2` dropped).
pub fn api_path(path: &str) -> String {
    format!("/{}", segments(path).join("/"))
}

/// Refuses a path the URL parser would rewrite before sending it, so that the path sent is the
/// path checked: a `.` or `..` segment (also written `%2e`), which it resolves (`/wallets/..`
/// fits `/wallets/{wallet_id}` but would be sent as `/`), a `\` (a `/` to it), a `#` (the rest
/// would not be sent).
fn refuse_rewritten(path: &str, concrete: &[&str]) -> Result<(), CliError> {
    let dots = |segment: &str| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    };
    if let Some(segment) = concrete.iter().find(|s| dots(s)) {
        return Err(CliError::Usage(format!(
            "{path} has the segment {segment:?}, which the URL would resolve: give the path \
             without `.` and `..` segments"
        )));
    }
    if let Some(c) = path.chars().find(|c| matches!(c, '\\' | '#')) {
        return Err(CliError::Usage(format!(
            "{path} holds {c:?}, which the URL would not send as given"
        )));
    }
    Ok(())
}

/// The operation `method` `path` (a concrete path, e.g. `/wallets/abc`) calls.
pub fn operation<'s>(spec: &'s Spec, method: &str, path: &str) -> Result<&'s Op, CliError> {
    if path.contains('?') {
        return Err(CliError::Usage(
            "give query parameters with --param KEY=VALUE, not in the path".to_owned(),
        ));
    }
    let concrete = segments(path);
    refuse_rewritten(path, &concrete)?;
    if concrete.first() == Some(&"oauth") {
        return Err(CliError::Usage(format!(
            "{path} is one of Cobo's token operations, which `api` does not call (the pair \
             would be rotated outside any store, the refresh token given in the arguments): \
             use `cobo-oauth token get|refresh` or `cobo-oauth tokens grant`"
        )));
    }
    if let Some(unfilled) = concrete.iter().find(|s| is_template(s)) {
        return Err(CliError::Usage(format!(
            "fill in {unfilled} in {path}: the path is sent as given"
        )));
    }
    let fitting: Vec<(usize, &Op)> = spec
        .ops
        .iter()
        .filter_map(|op| fit(&op.path, &concrete).map(|score| (score, op)))
        .collect();
    let method = method.to_ascii_uppercase();
    let best = fitting
        .iter()
        .filter(|(_, op)| op.method == method)
        .max_by_key(|(score, _)| *score);
    if let Some((_, op)) = best {
        return Ok(op);
    }
    if !fitting.is_empty() {
        let mut methods: Vec<String> = fitting
            .iter()
            .map(|(_, op)| format!("{} {}", op.method, op.path))
            .collect();
        methods.dedup();
        return Err(CliError::Usage(format!(
            "no {method} operation at {path}; valid: {}",
            methods.join(", ")
        )));
    }
    let first = concrete.first().copied().unwrap_or_default();
    let mut near: Vec<String> = spec
        .ops
        .iter()
        .filter(|op| segments(&op.path).first() == Some(&first))
        .map(|op| format!("{} {}", op.method, op.path))
        .collect();
    near.dedup();
    Err(CliError::Usage(if near.is_empty() {
        format!("no operation of the spec at {path}; `cobo-oauth api --list` lists them all")
    } else {
        format!(
            "no operation of the spec at {path}; valid paths under /{first}: {}",
            near.join(", ")
        )
    }))
}

/// Checks the query parameters given for `op`: each one it takes, with a value of its type,
/// and every required one given.
pub fn query(op: &Op, given: &[(String, String)]) -> Result<(), CliError> {
    let accepted: Vec<&Param> = op.params.iter().filter(|p| p.location == "query").collect();
    let names = || {
        if accepted.is_empty() {
            "it takes none".to_owned()
        } else {
            format!(
                "valid: {}",
                accepted
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    for (name, value) in given {
        let Some(param) = accepted.iter().find(|p| &p.name == name) else {
            return Err(CliError::Usage(format!(
                "{} {} takes no query parameter {name:?}; {}",
                op.method,
                op.path,
                names()
            )));
        };
        check_value(param, value)?;
    }
    let missing: Vec<&str> = accepted
        .iter()
        .filter(|p| p.required && !given.iter().any(|(name, _)| name == &p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Usage(format!(
            "{} {} requires the query parameters {}",
            op.method,
            op.path,
            missing.join(", ")
        )));
    }
    Ok(())
}

/// A value of the parameter's type: an integer, a boolean, one of its enum's values.
fn check_value(param: &Param, value: &str) -> Result<(), CliError> {
    let refuse = |what: String| {
        Err(CliError::Usage(format!(
            "{} must be {what}, not {value:?}",
            param.name
        )))
    };
    if let Some(values) = param.schema.get("enum").and_then(Value::as_array) {
        let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        if !values.is_empty() && !values.contains(&value) {
            return refuse(format!("one of {}", values.join(", ")));
        }
    }
    match param.schema.get("type").and_then(Value::as_str) {
        Some("integer") if value.parse::<i64>().is_err() => refuse("an integer".to_owned()),
        Some("number") if value.parse::<f64>().is_err() => refuse("a number".to_owned()),
        Some("boolean") if value != "true" && value != "false" => {
            refuse("true or false".to_owned())
        }
        _ => Ok(()),
    }
}

/// Checks the body given for `op` (JSON text) and returns the bytes to send.
pub fn body(op: &Op, given: Option<&str>) -> Result<Option<Vec<u8>>, CliError> {
    let (spec_body, text) = match (&op.body, given) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(CliError::Usage(format!(
                "{} {} takes no body",
                op.method, op.path
            )));
        }
        // Cobo's spec rarely marks a body required; one whose schema requires properties is.
        (Some(b), None) if b.required || !b.required_properties.is_empty() => {
            let properties = b
                .properties
                .as_ref()
                .map(|p| p.iter().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            return Err(CliError::Usage(format!(
                "{} {} needs a JSON body (--body); its properties: {properties}",
                op.method, op.path
            )));
        }
        (Some(_), None) => return Ok(None),
        (Some(b), Some(text)) => (b, text),
    };
    if !spec_body.media_type.contains("json") {
        return Err(CliError::Usage(format!(
            "{} {} takes a {} body, which `api` does not send",
            op.method, op.path, spec_body.media_type
        )));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| CliError::Usage(format!("the body is not JSON: {e}")))?;
    if let Some(expected) = &spec_body.json_type
        && !has_type(&value, expected)
    {
        return Err(CliError::Usage(format!(
            "the body of {} {} must be a JSON {expected}, not {}",
            op.method,
            op.path,
            type_of(&value)
        )));
    }
    if let (Some(properties), Some(object)) = (&spec_body.properties, value.as_object()) {
        let valid = || properties.iter().cloned().collect::<Vec<_>>().join(", ");
        if let Some(unknown) = object.keys().find(|k| !properties.contains(*k)) {
            return Err(CliError::Usage(format!(
                "the body of {} {} has no property {unknown:?}; valid: {}",
                op.method,
                op.path,
                valid()
            )));
        }
        let missing: Vec<&str> = spec_body
            .required_properties
            .iter()
            .filter(|p| !object.contains_key(*p))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(CliError::Usage(format!(
                "the body of {} {} requires {}",
                op.method,
                op.path,
                missing.join(", ")
            )));
        }
    }
    serde_json::to_vec(&value)
        .map(Some)
        .map_err(|e| CliError::Other(e.to_string()))
}

/// The most bytes the `--file`s of one call may hold together: 20 MiB. Neither Cobo's spec nor
/// its SDKs name a limit for `upload_payment_file` (KYC documents); this one keeps a wrong path
/// (`/dev/zero`, a disk image) from being read into memory.
pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

/// The bytes of the regular file at `path`, if it holds at most `room` bytes: its size is
/// checked before it is read (and the read stops past `room`, should it grow meanwhile).
fn read_file(path: &str, room: u64) -> Result<Vec<u8>, CliError> {
    use std::io::Read as _;
    let cannot = |e: std::io::Error| CliError::Usage(format!("cannot read {path}: {e}"));
    let too_large = || {
        CliError::Usage(format!(
            "{path} is too large: the files of one call hold at most {} MiB together",
            MAX_FILE_BYTES / 1024 / 1024
        ))
    };
    let not_regular =
        || CliError::Usage(format!("{path} is not a regular file: give --file a file"));
    // Looked at before it is opened (opening a FIFO would wait for a writer), and again once
    // open (the file read is the file checked).
    if !std::fs::metadata(path).map_err(cannot)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    let metadata = file.metadata().map_err(cannot)?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    if metadata.len() > room {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(room.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > room {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Whether `value` is of the JSON schema type `expected` (an unknown type name accepts any).
fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

/// The JSON type of `value`, as a schema names it.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Null => "null",
    }
}

/// Whether `op` takes a `multipart/form-data` body (sent with `--file`).
pub fn takes_form(op: &Op) -> bool {
    op.body
        .as_ref()
        .is_some_and(|b| cobo_oauth::signing::signs_empty_body(Some(&b.media_type)))
}

/// The form of the files given for `op` (`FIELD=PATH`, or `PATH` for the field `file`, each
/// sent as `content_type`): each field one the body lists, every required one given.
pub fn form(
    op: &Op,
    files: &[String],
    content_type: &str,
) -> Result<cobo_oauth::multipart::Form, CliError> {
    let spec_body = op.body.clone().unwrap_or_default();
    let mut form = cobo_oauth::multipart::Form::new();
    let mut given = Vec::new();
    let mut total = 0;
    for file in files {
        let (field, path) = file.split_once('=').unwrap_or(("file", file));
        if let Some(properties) = &spec_body.properties
            && !properties.contains(field)
        {
            return Err(CliError::Usage(format!(
                "the form of {} {} has no field {field:?}; valid: {}",
                op.method,
                op.path,
                properties.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let bytes = read_file(path, MAX_FILE_BYTES - total)?;
        total += u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let name = std::path::Path::new(path)
            .file_name()
            .map_or_else(|| field.to_owned(), |n| n.to_string_lossy().into_owned());
        form = form.file(
            field,
            cobo_oauth::multipart::FilePart::new(bytes, name, content_type),
        );
        given.push(field.to_owned());
    }
    let missing: Vec<&str> = spec_body
        .required_properties
        .iter()
        .filter(|p| !given.contains(p))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Usage(format!(
            "{} {} takes a multipart form: give --file for {}",
            op.method,
            op.path,
            missing.join(", ")
        )));
    }
    Ok(form)
}

#[cfg(test)]
mod tests {
    use super::super::spec::OFFICIAL_SPEC;
    use super::*;

    fn spec() -> Spec {
        Spec::parse(OFFICIAL_SPEC).unwrap_or_else(|e| panic!("{e}"))
    }

    fn usage(result: Result<impl std::fmt::Debug, CliError>) -> String {
        match result {
            Err(CliError::Usage(message)) => message,
            other => panic!("not a usage error: {other:?}"),
        }
    }

    #[test]
    fn a_concrete_path_finds_its_operation_and_literals_win() {
        let spec = spec();
        let id = |m: &str, p: &str| operation(&spec, m, p).map(|o| o.id.clone()).ok();
        assert_eq!(
            id("get", "/wallets/abc").as_deref(),
            Some("get_wallet_by_id")
        );
        assert_eq!(id("GET", "/v2/wallets").as_deref(), Some("list_wallets"));
        assert_eq!(
            id("GET", "/wallets/mpc/projects").as_deref(),
            Some("list_mpc_projects")
        );
        let wrong_method = usage(operation(&spec, "PATCH", "/wallets/abc"));
        assert!(
            wrong_method.contains("GET /wallets/{wallet_id}"),
            "{wrong_method}"
        );
        let unknown = usage(operation(&spec, "GET", "/wallets/abc/nothing/here/at/all"));
        assert!(unknown.contains("GET /wallets"), "{unknown}");
        let template = usage(operation(&spec, "GET", "/wallets/{wallet_id}"));
        assert!(template.contains("fill in {wallet_id}"), "{template}");
    }

    #[test]
    fn query_parameters_and_bodies_are_checked_with_the_valid_ones_listed() {
        let spec = spec();
        let list = operation(&spec, "GET", "/wallets").unwrap_or_else(|e| panic!("{e}"));
        let given = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert!(
            query(
                list,
                &given(&[("limit", "5"), ("wallet_type", "Custodial")])
            )
            .is_ok()
        );
        let unknown = usage(query(list, &given(&[("limt", "5")])));
        assert!(
            unknown.contains("valid: ") && unknown.contains("limit"),
            "{unknown}"
        );
        assert!(usage(query(list, &given(&[("limit", "five")]))).contains("an integer"));
        assert!(usage(query(list, &given(&[("wallet_type", "Bank")]))).contains("Custodial"));

        let transfer =
            operation(&spec, "POST", "/transactions/transfer").unwrap_or_else(|e| panic!("{e}"));
        let missing = usage(body(transfer, None));
        assert!(missing.contains("request_id"), "{missing}");
        let extra = usage(body(transfer, Some(r#"{"request_idd": "r"}"#)));
        assert!(
            extra.contains("\"request_idd\"") && extra.contains("destination"),
            "{extra}"
        );
        let required = usage(body(transfer, Some(r#"{"request_id": "r"}"#)));
        assert!(
            required.contains("requires") && required.contains("source"),
            "{required}"
        );
        assert!(usage(body(list, Some("{}"))).contains("takes no body"));
        // A body of another type than the schema's skipped every property check.
        for other in ["[]", "\"text\"", "1", "null", "true"] {
            let refused = usage(body(transfer, Some(other)));
            assert!(refused.contains("must be a JSON object, not "), "{refused}");
        }
        assert!(usage(body(transfer, Some("{"))).contains("not JSON"));
    }
}
