// Loads a .heapsnapshot with memlab (@memlab/core) and prints, one per line,
// "id retained_size self_size type name" for every node, after memlab has run
// its own dominator computation:
//   node check_heapsnapshot.mjs FILE.heapsnapshot
import core from "@memlab/core";

const { utils, config, TraceFinder } = core;
config.muteConsole = true;
const file = process.argv[2];
const snapshot = await utils.getSnapshotFromFile(file, { buildNodeIdIndex: true });
const finder = new TraceFinder();
finder.annotateShortestPaths(snapshot);
finder.calculateAllNodesRetainedSizes(snapshot);
const lines = [];
snapshot.nodes.forEach((node) => {
  lines.push(`${node.id} ${node.retainedSize} ${node.self_size} ${node.type} ${node.name}`);
});
process.stdout.write(lines.join("\n") + "\n");
