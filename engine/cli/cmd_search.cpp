// dmc search - the budget solver (engine/src/budget.cpp) on the command
// line: a flash / RAM / MAC budget in, the most accurate config that fits
// out, with the front of accuracy against the budgeted resource.
#include <climits>
#include <cstdio>
#include <string>

#include "cli.h"
#include "dmc/budget.h"

namespace dmc::cli {
namespace {

const char *kSearchHelp =
    "usage: dmc search --model FILE [--flash BYTES] [--ram BYTES] [--macs N]\n"
    "                  [--max-drop POINTS] [--bits LIST] [--keep LIST] [--mnist DIR]\n"
    "                  [--subset N] [--screen-calibration N] [--finalists N] [--threads N]\n"
    "                  [--json] [-o BEST.config.json]\n"
    "\n"
    "Finds the most accurate per-layer config (bits and keep ratio of every\n"
    "conv2d/linear layer, bits of every depthwise layer, whose channels follow\n"
    "the layer before; the output layer keeps all its channels) whose flash,\n"
    "peak RAM and MACs fit the budget, each figure <= its limit, exactly as\n"
    "dmc eval reports them. Candidates are scored on a stratified subset of the\n"
    "test images, the best few again on all of them. Prints the chosen config\n"
    "with its accuracy on all test images, flash, RAM and MACs, the number of\n"
    "configurations scored, and the front of accuracy (on the subset) against\n"
    "the first resource limited. With --max-drop and no other limit: the\n"
    "smallest flash within that many points of the float model's accuracy.\n"
    "\n"
    "  --flash BYTES      flash for weights, biases and requantization constants\n"
    "  --ram BYTES        peak activation RAM (the buffer plan's arena)\n"
    "  --macs N           multiply-accumulates per inference\n"
    "  --max-drop POINTS  accuracy may be at most this far below the float model's\n"
    "  --bits LIST        bit widths to choose from (default 8,4,2)\n"
    "  --keep LIST        keep ratios to choose from (default\n"
    "                     1,0.875,0.75,0.625,0.5,0.375,0.25)\n"
    "  --subset N         test images candidates are scored on (default 2000)\n"
    "  --screen-calibration N\n"
    "                     compress candidates with only the first N calibration\n"
    "                     images (faster, ranks a little differently; the\n"
    "                     finalists always use all; default 0: all)\n"
    "  --finalists N      the best configs on the subset scored again on all test\n"
    "                     images, the best there being the answer (default 6)\n"
    "  --threads N        score candidates on N threads (default 1; the answer is\n"
    "                     the same with any number)\n"
    "  --json             print one JSON object instead of the tables\n"
    "  -o FILE            write the chosen config (what dmc eval --config reads)\n";

int cmd_search(int argc, char **argv) {
    const Options o(argc, argv,
                    with_model_options({"--model", "--flash", "--ram", "--macs", "--max-drop", "--bits", "--keep",
                                        "--mnist", "--subset", "--screen-calibration", "--finalists", "--threads",
                                        "-o"}),
                    {"--json"});
    const Model model = load_model_option(o);
    Budget budget;
    budget.flash_bytes = o.integer("--flash", 0, 1, INT_MAX);
    budget.peak_ram_bytes = o.integer("--ram", 0, 1, INT_MAX);
    budget.macs = o.integer("--macs", 0, 1, INT_MAX);
    budget.max_drop_points = o.number("--max-drop", -1.0, 0.0, 100.0);
    if (!o.has("--flash") && !o.has("--ram") && !o.has("--macs") && !o.has("--max-drop"))
        throw Error("give a budget: --flash, --ram, --macs or --max-drop (see --help)");
    BudgetChoices choices;
    if (o.has("--bits")) choices.bits = integer_list(o.get("--bits"), "--bits", 2, 8);
    if (o.has("--keep")) choices.keeps = number_list(o.get("--keep"), "--keep", 0.0, 1.0);
    for (int b : choices.bits)
        if (b != 2 && b != 4 && b != 8) throw Error("option --bits: " + std::to_string(b) + " is not one of 8, 4, 2");
    for (double k : choices.keeps)
        if (k == 0.0) throw Error("option --keep: 0 is outside (0, 1]");
    BudgetOptions options;
    options.subset_images = o.integer("--subset", options.subset_images, 1, 100000000);
    options.screening_calibration = o.integer("--screen-calibration", 0, 0, 100000000);
    options.finalists = o.integer("--finalists", options.finalists, 1, 1000);
    options.threads = o.integer("--threads", 1, 1, 16);

    const TestSet test = load_test_set(model, o.get("--mnist"));
    Compressor compressor(model, load_calibration_set(model, o.get("--mnist")));
    const Progress screening = terminal_progress("configurations scored on the subset");
    const Progress confirming = terminal_progress("finalists scored on all images");
    const BudgetOutcome found =
        solve_budget(compressor, test, budget, choices, options, [&](SearchStage stage, int done, int total) {
            const Progress &show = stage == SearchStage::Screening ? screening : confirming;
            if (show) show(done, total);
        });
    if (screening) std::fputs("\r\033[K", stderr); // the progress line goes
    if (o.has("-o")) write_file(o.get("-o"), config_to_json(found.best.config, 2) + "\n", "config");
    std::fputs((o.has("--json") ? budget_outcome_to_json(found) : budget_outcome_to_text(found)).c_str(), stdout);
    return 0;
}

} // namespace

const Command search_command = {kSearchHelp, cmd_search};

} // namespace dmc::cli
