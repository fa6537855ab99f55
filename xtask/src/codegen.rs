//! `cargo xtask codegen`: the spec → `cobo-oauth-codegen` (validate, normalize, generate) →
//! write or check the committed outputs, or write a standalone crate.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cobo_oauth_codegen::{Codegen, Generated, GeneratedUnion, write_file};

use crate::task::TaskError;
use crate::{paths, standalone};

/// What `cargo xtask codegen` was asked to do.
pub struct Options {
    /// Compare instead of writing.
    pub check: bool,
    /// The spec; default `openapi/cobo-oauth.yaml`.
    pub spec: Option<PathBuf>,
    /// Write a standalone crate here.
    pub out: Option<PathBuf>,
}

/// The normalized spec `cobo-oauth-gen`'s `build.rs` reads, relative to that crate.
pub const NORMALIZED_SPEC: &str = "openapi/normalized.json";

/// The formatted copy of the generated client, relative to `cobo-oauth-gen`.
pub const GENERATED_COPY: &str = "generated/client.rs";

/// Where `cobo-oauth-gen` (which depends on `cobo-oauth-runtime` alone) finds the runtime.
pub const GEN_RUNTIME: &str = "::cobo_oauth_runtime";

/// The committed types of `cobo-oauth-events`, relative to that crate.
pub const EVENTS_COPY: &str = "generated/events.rs";

/// The types of webhook event data, from Cobo's official spec
/// ([`UnionTypes::webhook_event_data`](cobo_oauth_codegen::UnionTypes::webhook_event_data), as
/// `cobo-oauth-events`' test that the copy is current calls it).
pub fn events(official_spec: &std::path::Path) -> Result<GeneratedUnion, TaskError> {
    Ok(cobo_oauth_codegen::UnionTypes::webhook_event_data(official_spec).generate()?)
}

/// Runs `cargo xtask codegen`.
pub fn run(options: Options) -> Result<ExitCode, TaskError> {
    let spec_path = options.spec.unwrap_or_else(paths::spec);
    let started = Instant::now();
    let generated: Generated = Codegen::new(&spec_path).runtime(GEN_RUNTIME).generate()?;
    eprint!("{}", generated.normalized.report());
    eprintln!(
        "generated {} operations ({} lines) from {} in {:.1} s",
        generated.normalized.operations(),
        generated.code.lines().count(),
        spec_path.display(),
        started.elapsed().as_secs_f64()
    );
    if let Some(dir) = options.out {
        standalone::write_crate(&dir, &generated.code, &generated.normalized_json)?;
        eprintln!(
            "wrote a standalone crate to {}; build it with `cd {} && cargo build`",
            dir.display(),
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let started = Instant::now();
    let events = events(&paths::official_spec())?;
    eprint!("{}", events.normalized.report());
    eprintln!(
        "generated the types of {} webhook event data types ({} lines) in {:.1} s",
        events.variants.len(),
        events.code.lines().count(),
        started.elapsed().as_secs_f64()
    );
    let gen_crate = paths::gen_crate();
    let outputs = [
        (
            gen_crate.join(NORMALIZED_SPEC),
            generated.normalized_json.as_str(),
        ),
        (gen_crate.join(GENERATED_COPY), generated.code.as_str()),
        (
            paths::events_crate().join(EVENTS_COPY),
            events.code.as_str(),
        ),
    ];
    let relative = |path: &PathBuf| {
        path.strip_prefix(paths::workspace_root())
            .unwrap_or(path)
            .to_owned()
    };
    if options.check {
        let stale: Vec<PathBuf> = outputs
            .iter()
            .filter(|(path, contents)| {
                std::fs::read_to_string(path).ok().as_deref() != Some(*contents)
            })
            .map(|(path, _)| relative(path))
            .collect();
        if !stale.is_empty() {
            return Err(TaskError::Stale(stale));
        }
        eprintln!("generated files are up to date");
        return Ok(ExitCode::SUCCESS);
    }
    for (path, contents) in &outputs {
        write_file(path, contents)?;
        eprintln!("wrote {}", relative(path).display());
    }
    Ok(ExitCode::SUCCESS)
}
