//! `memlens heap`: reports on a heap snapshot (`.mlh`, written by
//! `memlens.snapshot()`), one sub-verb each, named after memray's reports
//! and Eclipse MAT's views. Text by default, a versioned JSON document with
//! `--json` (docs/heap.md). A file that is not a whole, sound snapshot is a
//! one-line error and exit 2. `export` writes the snapshot for other tools.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use memlens_heap::{HeapsnapshotCounts, SuspectOptions};

use crate::output;
use crate::report::heap::{self as rh, PathQuery, TreeOptions};

/// Analyse a heap snapshot (.mlh): types, dominators, paths from roots, leak suspects, export.
#[derive(Args, Debug)]
#[command(subcommand_required = true, arg_required_else_help = true)]
pub struct HeapArgs {
    #[command(subcommand)]
    verb: HeapVerb,
}

#[derive(Subcommand, Debug)]
enum HeapVerb {
    Summary(SummaryArgs),
    Dominators(DominatorsArgs),
    Path(PathArgs),
    Suspects(SuspectsArgs),
    Export(ExportArgs),
}

/// The snapshot and `--json`, which every heap report takes.
#[derive(Args, Debug)]
struct Common {
    /// The heap snapshot file (.mlh).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print a JSON document instead of text (schema `memlens.heap-<verb>/1`,
    /// docs/heap.md).
    #[arg(long)]
    json: bool,
}

/// Objects, shallow, owned and retained bytes per type, largest retained first.
///
/// The header gives the totals, the roots, the objects held from outside
/// the graph (hidden holders) and the cyclic garbage no root reaches.
#[derive(Args, Debug)]
struct SummaryArgs {
    #[command(flatten)]
    common: Common,
    /// How many types to list.
    #[arg(long, default_value_t = 25, value_parser = super::values::count)]
    top: usize,
}

/// The top of the dominator tree: what each object alone keeps alive.
///
/// An object's retained size is what freeing it would free: itself and
/// everything reachable only through it.
#[derive(Args, Debug)]
struct DominatorsArgs {
    #[command(flatten)]
    common: Common,
    /// Levels of the tree to show.
    #[arg(long, default_value_t = 4, value_parser = super::values::count)]
    depth: usize,
    /// Leave out objects retaining less than this share of the reachable heap.
    #[arg(long, default_value_t = 1.0, value_parser = super::values::percent)]
    min_percent: f64,
    /// Children shown per object, largest first.
    #[arg(long, default_value_t = 10, value_parser = super::values::count)]
    children: usize,
    /// Show the tree below this object (a node id, or an address 0x…).
    #[arg(long, value_name = "ID")]
    node: Option<String>,
}

/// The shortest path from a root to an object, or to every instance of a type.
///
/// Printed as a Python expression (`app.cache['k'][3].body`) and step by
/// step. Instances of a type are grouped by path signature (indices masked),
/// the largest group first.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["type_name", "node"])))]
struct PathArgs {
    #[command(flatten)]
    common: Common,
    /// The type, `module.qualname` (or the qualname when only one type has it).
    #[arg(long = "type", value_name = "QUALNAME")]
    type_name: Option<String>,
    /// The object: a node id, or an address 0x….
    #[arg(long, value_name = "ID")]
    node: Option<String>,
    /// With --type: how many path signatures to show.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = super::values::count)]
    all: usize,
    /// Search only from the roots with this name (a module name, `builtins`…).
    #[arg(long, value_name = "NAME")]
    root: Option<String>,
}

/// Leak suspects, the Eclipse MAT way: objects keeping a large share of the
/// heap alive, followed down to where the memory accumulates.
#[derive(Args, Debug)]
struct SuspectsArgs {
    #[command(flatten)]
    common: Common,
    /// An object is a suspect when it retains at least this share of the reachable heap.
    #[arg(long, default_value_t = 10.0, value_parser = super::values::percent)]
    min_percent: f64,
    /// Walk down while one child keeps at least this share of its parent.
    #[arg(long, default_value_t = 70.0, value_parser = super::values::percent)]
    accumulation_percent: f64,
}

/// Write the snapshot as a Chrome DevTools `.heapsnapshot`, for the DevTools
/// Memory tab, memlab and other V8 heap tools.
///
/// Objects keep persistent ids (the same object has the same id in every
/// snapshot of one process); a synthetic root holds one node per memlens root.
#[derive(Args, Debug)]
struct ExportArgs {
    /// The heap snapshot file (.mlh).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The file to write (default: FILE with `.heapsnapshot`).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Overwrite the output file if it exists (never the snapshot itself).
    #[arg(long)]
    force: bool,
}

pub fn run(args: HeapArgs) -> anyhow::Result<i32> {
    match args.verb {
        HeapVerb::Summary(a) => {
            let l = rh::load(&a.common.file)?;
            if a.common.json {
                output::print_json(&rh::summary_json(&l, a.top)?)?;
            } else {
                output::print(&rh::summary_text(&l, a.top))?;
            }
        }
        HeapVerb::Dominators(a) => {
            let l = rh::load(&a.common.file)?;
            let start = a
                .node
                .as_deref()
                .map(|n| rh::resolve_node(&l.snap, n))
                .transpose()?;
            let opts = TreeOptions {
                start,
                depth: a.depth,
                children: a.children,
                min_percent: a.min_percent,
            };
            if a.common.json {
                output::print_json(&rh::dominators_json(&l, opts)?)?;
            } else {
                output::print(&rh::dominators_text(&l, opts))?;
            }
        }
        HeapVerb::Path(a) => {
            let l = rh::load(&a.common.file)?;
            let query = if let Some(name) = &a.type_name {
                let types = rh::resolve_type(&l.snap, name)?;
                PathQuery::Type(l.snap.type_name(types[0]), types)
            } else if let Some(node) = &a.node {
                PathQuery::Node(rh::resolve_node(&l.snap, node)?)
            } else {
                anyhow::bail!("give --type QUALNAME or --node ID");
            };
            let root = a.root.as_deref();
            if a.common.json {
                output::print_json(&rh::path_json(&l, &query, root, a.all)?)?;
            } else {
                output::print(&rh::path_text(&l, &query, root, a.all)?)?;
            }
        }
        HeapVerb::Suspects(a) => {
            let l = rh::load(&a.common.file)?;
            let opts = SuspectOptions {
                min_share: a.min_percent / 100.0,
                accumulation_share: a.accumulation_percent / 100.0,
                ..SuspectOptions::default()
            };
            if a.common.json {
                output::print_json(&rh::suspects_json(&l, opts)?)?;
            } else {
                output::print(&rh::suspects_text(&l, opts))?;
            }
        }
        HeapVerb::Export(a) => export(a)?,
    }
    Ok(0)
}

fn export(a: ExportArgs) -> anyhow::Result<()> {
    let output = a
        .output
        .unwrap_or_else(|| a.file.with_extension("heapsnapshot"));
    output::check_target(&output, std::slice::from_ref(&a.file), a.force, "export")?;
    let l = rh::load(&a.file)?;
    let mut counts = HeapsnapshotCounts::default();
    output::write_atomically(&output, |out| {
        counts = memlens_heap::write_heapsnapshot_with(&l.snap, &l.dom, out)?;
        Ok(())
    })?;
    let size = std::fs::metadata(&output).map_or(0, |m| m.len());
    output::print(&rh::export_text(&output, counts, size))
}
