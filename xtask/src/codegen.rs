//! `cargo xtask codegen`: spec → validate and normalize → generate → format → write or check.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::normalize::{self, Normalized};
use crate::task::{TaskError, load_spec, write};
use crate::{paths, shared, standalone};

/// What `cargo xtask codegen` was asked to do.
pub struct Options {
    /// Compare instead of writing.
    pub check: bool,
    /// The spec; default `openapi/cobo-oauth.yaml`.
    pub spec: Option<PathBuf>,
    /// Write a standalone crate here.
    pub out: Option<PathBuf>,
}

/// The outputs of the pipeline for one spec.
pub struct Generated {
    /// The normalized spec, pretty JSON.
    pub normalized_json: String,
    /// The formatted client.
    pub code: String,
    /// What normalization did.
    pub normalized: Normalized,
}

/// Runs the pipeline on a spec: validate and normalize, then generate with the settings that
/// `build.rs` uses.
pub fn pipeline(spec_path: &Path) -> Result<Generated, TaskError> {
    let started = Instant::now();
    let normalized = normalize::normalize(load_spec(spec_path)?)?;
    eprintln!(
        "normalized {} operations in {:.1} s; generating...",
        normalized.operations(),
        started.elapsed().as_secs_f64()
    );
    let normalized_json = format!(
        "{}\n",
        serde_json::to_string_pretty(&normalized.spec)
            .map_err(|e| TaskError::Codegen(e.to_string()))?
    );
    let spec =
        shared::parse_spec(&normalized_json).map_err(|e| TaskError::Codegen(e.to_string()))?;
    let spec_for_search = spec.clone();
    let code = match generate_with_deadline(spec, GENERATION_DEADLINE) {
        Ok(code) => code,
        Err(error @ (shared::CodegenError::Panic(_) | shared::CodegenError::Generate(_)))
            if !is_deadline(&error) =>
        {
            // Name the operation (and component) that progenitor cannot take.
            return Err(TaskError::Codegen(
                match normalize::generate_checked(&spec_for_search, &shared::settings()) {
                    Err(located) => located.to_string(),
                    Ok(_) => error.to_string(),
                },
            ));
        }
        Err(error) => return Err(TaskError::Codegen(error.to_string())),
    };
    eprintln!(
        "generated {} operations ({} lines) from {} in {:.1} s",
        normalized.operations(),
        code.lines().count(),
        spec_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(Generated {
        normalized_json,
        code,
        normalized,
    })
}

/// How long progenitor may take before the task gives up.
pub const GENERATION_DEADLINE: Duration = Duration::from_secs(300);

/// Runs the shared generator on its own thread, so that a spec that sends progenitor into a very
/// long computation ends in an error instead of a hang.
fn generate_with_deadline(
    spec: openapiv3::OpenAPI,
    deadline: Duration,
) -> Result<String, shared::CodegenError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(shared::generate(&spec));
    });
    receiver.recv_timeout(deadline).unwrap_or_else(|_| {
        Err(shared::CodegenError::Generate(format!(
            "progenitor {DEADLINE_MESSAGE} {} s (typify's merging of allOf with oneOf branches grows \
             exponentially on some shapes; see the normalization rules)",
            deadline.as_secs()
        )))
    })
}

fn is_deadline(error: &shared::CodegenError) -> bool {
    error.to_string().contains(DEADLINE_MESSAGE)
}

const DEADLINE_MESSAGE: &str = "did not finish within";

/// Runs `cargo xtask codegen`.
pub fn run(options: Options) -> Result<ExitCode, TaskError> {
    let spec_path = options.spec.unwrap_or_else(paths::spec);
    let generated = pipeline(&spec_path)?;
    eprint!("{}", generated.normalized.report());
    if let Some(dir) = options.out {
        standalone::write_crate(&dir, &generated.code, &generated.normalized_json)?;
        eprintln!(
            "wrote a standalone crate to {}; build it with `cd {} && cargo build`",
            dir.display(),
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let gen_crate = paths::gen_crate();
    let outputs = [
        (
            gen_crate.join(shared::NORMALIZED_SPEC),
            generated.normalized_json.as_str(),
        ),
        (
            gen_crate.join(shared::GENERATED_COPY),
            generated.code.as_str(),
        ),
    ];
    if options.check {
        let stale: Vec<PathBuf> = outputs
            .iter()
            .filter(|(path, contents)| {
                std::fs::read_to_string(path).ok().as_deref() != Some(*contents)
            })
            .map(|(path, _)| {
                path.strip_prefix(paths::workspace_root())
                    .unwrap_or(path)
                    .to_owned()
            })
            .collect();
        if !stale.is_empty() {
            return Err(TaskError::Stale(stale));
        }
        eprintln!("generated files are up to date");
        return Ok(ExitCode::SUCCESS);
    }
    for (path, contents) in &outputs {
        write(path, contents)?;
        eprintln!(
            "wrote {}",
            path.strip_prefix(paths::workspace_root())
                .unwrap_or(path)
                .display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
