//! Graph pictures without graphviz: DOT laid out and drawn as SVG in-process
//! (layout-rs), for machines where the `dot` program is not installed.

/// Why a DOT graph could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError {
    message: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RenderError {}

/// Lays out a Graphviz DOT graph and draws it as an SVG document.
///
/// layout-rs understands a subset of DOT: nodes, edges, `label`, `shape`,
/// `color`, `fillcolor` (names or `#rrggbb`), `fontcolor`, `style`. Anything
/// it rejects — or a panic inside it — comes back as a [`RenderError`].
pub fn dot_to_svg(dot: &str) -> Result<String, RenderError> {
    let dot = dot.to_string();
    let outcome = std::panic::catch_unwind(move || {
        let mut parser = layout::gv::DotParser::new(&dot);
        let graph = parser
            .process()
            .map_err(|err| format!("cannot parse the DOT graph: {err}"))?;
        let mut builder = layout::gv::GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut svg = layout::backends::svg::SVGWriter::new();
        visual.do_it(false, false, false, &mut svg);
        Ok::<String, String>(svg.finalize())
    });
    match outcome {
        Ok(Ok(svg)) => Ok(svg),
        Ok(Err(message)) => Err(RenderError { message }),
        Err(_) => Err(RenderError {
            message: "the in-process SVG renderer failed on this graph".to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_labelled_graph_becomes_svg() {
        let dot = "digraph ObjectGraph {\n  node[shape=box, style=filled, fillcolor=white];\n  \
                   o1[label=\"list\\n3 items\", fillcolor=\"#66cc66\"];\n  \
                   o2[label=\"Node\\n<Node>\"];\n  o1 -> o2 [label=\"[0]\"];\n  o2 -> o1 [label=\"owner\"];\n}\n";
        let svg = dot_to_svg(dot).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("owner"));
        assert!(svg.contains("3 items"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            "",
            "digraph {",
            "not dot at all",
            "digraph { a -> ; }",
            "digraph { a [label=\"x\"; }",
        ] {
            let _ = dot_to_svg(input);
        }
        assert!(dot_to_svg("digraph { a -> ; }").is_err());
    }
}
