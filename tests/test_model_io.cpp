// The model file: round trip, and a clear refusal of every kind of bad file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include "io_util.h"
#include "test_util.h"

using namespace dmc;
using nlohmann::json;

namespace {

// Expects parse_model to throw dmc::Error whose message contains `needle`.
void expect_refused(const std::string &text, const std::string &needle) {
    try {
        parse_model(text, "test model");
        FAIL() << "accepted a bad model; expected an error mentioning '" << needle << "'";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << "message '" << e.what() << "' does not mention '" << needle << "'";
    }
}

json model_json() { return json::parse(model_to_json(dmc_test::small_cnn())); }

std::string base64_floats(const std::vector<float> &v) {
    // Reuse the engine's writer: a one-layer model's weight field.
    Model m;
    m.name = "t";
    m.input.shape = Shape{1, 1, int(v.size())};
    Layer l = dmc_test::linear("fc", int(v.size()), 1);
    l.input = m.input.shape;
    l.weight = v;
    m.layers = {dmc_test::simple(LayerType::Flatten, "f"), l};
    return json::parse(model_to_json(m))["layers"][1]["weight"].get<std::string>();
}

} // namespace

TEST(ModelIo, WriteThenReadGivesTheSameModel) {
    const Model a = dmc_test::small_cnn(3);
    const Model b = parse_model(model_to_json(a));
    EXPECT_EQ(b.name, a.name);
    EXPECT_EQ(b.input.shape, a.input.shape);
    EXPECT_EQ(b.input.mean, a.input.mean);
    EXPECT_EQ(b.input.std, a.input.std);
    ASSERT_EQ(b.layers.size(), a.layers.size());
    for (size_t i = 0; i < a.layers.size(); ++i) {
        const Layer &x = a.layers[i], &y = b.layers[i];
        EXPECT_EQ(y.name, x.name);
        EXPECT_EQ(y.type, x.type);
        EXPECT_EQ(y.kernel, x.kernel);
        EXPECT_EQ(y.stride, x.stride);
        EXPECT_EQ(y.padding, x.padding);
        EXPECT_EQ(y.output, x.output);
        ASSERT_EQ(y.weight.size(), x.weight.size());
        if (!x.weight.empty()) { // bit for bit
            EXPECT_EQ(0, std::memcmp(y.weight.data(), x.weight.data(), 4 * x.weight.size()));
        }
        EXPECT_EQ(y.bias, x.bias);
    }
    EXPECT_EQ(model_to_json(b), model_to_json(a));
}

TEST(ModelIo, AcceptsPlainNumberArraysAndDefaults) {
    const std::string text = R"({"format": "dmc-model", "version": 1, "name": "tiny",
        "input": {"channels": 1, "height": 1, "width": 3},
        "layers": [{"name": "flat", "type": "flatten"},
                   {"name": "fc", "type": "linear", "in_features": 3, "out_features": 2,
                    "weight": [1, 2, 3, 4, 5, 6]}]})";
    const Model m = parse_model(text);
    EXPECT_EQ(m.layers[1].weight, (std::vector<float>{1, 2, 3, 4, 5, 6}));
    EXPECT_TRUE(m.layers[1].bias.empty());
    EXPECT_EQ(m.input.std, 1.0f);
    EXPECT_EQ(m.output_shape(), (Shape{2, 1, 1}));
}

TEST(ModelIo, RefusesBadFilesWithAClearMessage) {
    expect_refused("{not json", "not valid JSON");
    expect_refused("[]", "JSON object");

    json j = model_json();
    j["version"] = 3;
    expect_refused(j.dump(), "version 3 is not supported (this engine reads versions 1 and 2)");

    j = model_json();
    j["format"] = "onnx";
    expect_refused(j.dump(), "expected 'dmc-model'");

    j = model_json();
    j["layers"][0].erase("kernel");
    expect_refused(j.dump(), "missing field 'kernel'");

    j = model_json();
    j["layers"][1]["type"] = "softmax";
    expect_refused(j.dump(), "unknown layer type 'softmax'");

    j = model_json();
    j["layers"][3]["in_channels"] = 4; // conv2 after a 5-channel tensor
    j["layers"][3]["weight"] = std::vector<float>(7 * 3 * 3 * 4, 0.1f);
    expect_refused(j.dump(), "expects 4 input channels but receives a 5x6x6 tensor");

    j = model_json();
    j["layers"][7]["in_features"] = 27;
    j["layers"][7]["weight"] = std::vector<float>(9 * 27, 0.1f);
    expect_refused(j.dump(), "expects 27 input features but receives 28");

    j = model_json();
    j["layers"].erase(6); // no flatten before fc1
    expect_refused(j.dump(), "add a flatten layer");

    j = model_json();
    j["layers"][9]["weight"] = base64_floats(std::vector<float>(89, 0.5f)); // needs 90
    expect_refused(j.dump(), "needs 90 floats");

    j = model_json();
    j["layers"][9]["weight"] = std::vector<float>(91, 0.5f);
    expect_refused(j.dump(), "has 91 values but the shape needs 90");

    std::vector<float> with_nan(90, 0.5f);
    with_nan[17] = std::nanf("");
    j = model_json();
    j["layers"][9]["weight"] = base64_floats(with_nan);
    expect_refused(j.dump(), "weight[17] is NaN");

    std::vector<float> with_inf(10, 0.5f);
    with_inf[3] = INFINITY;
    j = model_json();
    j["layers"][9]["bias"] = base64_floats(with_inf);
    expect_refused(j.dump(), "bias[3] is infinite");

    j = model_json();
    j["layers"][9]["weight"] = "!!!!" + j["layers"][9]["weight"].get<std::string>().substr(4);
    expect_refused(j.dump(), "invalid base64 character");

    j = model_json();
    j["layers"][9]["name"] = "fc1";
    expect_refused(j.dump(), "used twice");

    j = model_json();
    j["layers"][0]["kernl"] = 3;
    expect_refused(j.dump(), "unknown field 'kernl'");

    j = model_json();
    j["layers"][0]["stride"] = 0;
    expect_refused(j.dump(), "'stride' is 0, outside [1, 64]");

    j = model_json();
    j["layers"][0]["kernel"] = 2.5;
    expect_refused(j.dump(), "must be an integer");

    j = model_json();
    j["input"]["std"] = 0;
    expect_refused(j.dump(), "std 0 is outside [1e-06, 1e+06]");

    j = model_json();
    j["name"] = "has space";
    expect_refused(j.dump(), "C identifier");
}

// The cases of issue 11 that used to pass, crash or mislead.
TEST(ModelIo, RefusesWhatTheHostileInputCampaignFound) {
    json j = model_json();
    j["version"] = 1.0; // one rule with python/: integers are written as integers
    expect_refused(j.dump(), "field 'version' must be an integer (written without '.' or 'e'), not '1.0'");

    // A float32 std of 1e-50 is 0, of 1e-45 a denormal whose inverse is inf.
    for (const char *std : {"1e-50", "1e-45", "1e-07"}) {
        j = model_json();
        j["input"]["std"] = std::stod(std);
        expect_refused(j.dump(), "std " + std::string(std) + " is outside [1e-06, 1e+06]");
    }
    j = model_json();
    j["input"]["mean"] = 1e7;
    expect_refused(j.dump(), "mean 1e+07 is outside [-1e+06, 1e+06]");

    // base64 one character too long, and one float short: exact counts.
    j = model_json();
    j["layers"][9]["weight"] = j["layers"][9]["weight"].get<std::string>() + "A";
    expect_refused(j.dump(), "481 characters of base64 (not a whole number of 4-character groups), but the shape "
                             "needs 90 floats: 360 bytes, 480 characters of base64");
    j = model_json();
    j["layers"][9]["weight"] = base64_floats(std::vector<float>(89, 0.5f));
    expect_refused(j.dump(), "476 characters of base64 (356 bytes), but the shape needs 90 floats");

    // A newline or NUL in a name is shown escaped; a long one is cut.
    j = model_json();
    j["name"] = std::string("a\nb\0c", 5);
    expect_refused(j.dump(), "model 'a\\nb\\x00c'");
    j = model_json();
    j["layers"][0]["type"] = std::string(1 << 20, 'x');
    try {
        parse_model(j.dump(), "test model");
        FAIL() << "accepted a 1 MB layer type";
    } catch (const Error &e) {
        EXPECT_LT(std::string(e.what()).size(), 300u) << e.what();
        EXPECT_NE(std::string(e.what()).find("... (1048576 characters)"), std::string::npos) << e.what();
    }
}

// The model that hung `dmc eval`: padding 63 grows a 28x28 image to 91x91
// under a 64x64 kernel, 2.2 G MACs in one layer. Refused from its shapes.
TEST(ModelIo, RefusesTooMuchWorkPerInference) {
    Model m;
    m.name = "heavy";
    m.input.shape = Shape{1, 28, 28};
    m.layers = {dmc_test::conv("c1", 1, 64, 64, 1, 63)};
    m.layers[0].weight.assign(size_t(64 * 64 * 64), 0.01f);
    try {
        validate_model(m);
        FAIL() << "accepted 2.2 G MACs per inference";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("2,170,814,464 MACs per inference by layer 'c1' (conv2d) exceed the "
                                             "limit of 268,435,456"),
                  std::string::npos)
            << e.what();
    }
}

TEST(ModelIo, RefusesAbsurdSizesBeforeAllocating) {
    // 65536 x 64 x 64 x 5 floats would be 5 GB: refused from the fields
    // alone (the short weight string is never decoded).
    json j = model_json();
    j["layers"][3]["out_channels"] = 65536;
    j["layers"][3]["kernel"] = 64;
    expect_refused(j.dump(), "more than 67108864 parameters");

    j = model_json();
    j["layers"][7]["in_features"] = 65536;
    j["layers"][7]["out_features"] = 65536;
    expect_refused(j.dump(), "more than 67108864 parameters");

    j = model_json();
    j["input"]["height"] = 1 << 20;
    expect_refused(j.dump(), "outside");

    j = model_json();
    j["input"]["height"] = 4096;
    j["input"]["width"] = 4096;
    expect_refused(j.dump(), "more than");

    j = model_json();
    j["layers"] = json::array();
    expect_refused(j.dump(), "'layers' is empty");
}

// Thousands of seeded random corruptions of a valid file (flipped,
// deleted and duplicated bytes, big numbers swapped in): each is either
// read or refused with a dmc::Error, never a crash or another exception.
TEST(ModelIo, CorruptedFilesAreReadOrRefusedNeverCrash) {
    const std::string good = model_to_json(dmc_test::small_cnn(5));
    std::mt19937 rng(77);
    const char *numbers[] = {"-1", "0", "1e308", "4294967297", "65537", "NaN", "null", "[]", "\"x\""};
    int refused = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::string text = good;
        const int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const size_t at = rng() % text.size();
            switch (rng() % 4) {
            case 0: text[at] = char(rng() % 128); break;
            case 1: text.erase(at, 1 + rng() % 8); break;
            case 2: text.insert(at, text.substr(at, 1 + rng() % 16)); break;
            default: {
                // Replace a number with an extreme value.
                const size_t digit = text.find_first_of("0123456789", at);
                if (digit == std::string::npos) break;
                const size_t end = text.find_first_not_of("0123456789", digit);
                text.replace(digit, end - digit, numbers[rng() % 9]);
            }
            }
        }
        try {
            parse_model(text, "mutated");
        } catch (const Error &) {
            ++refused;
        }
    }
    EXPECT_GT(refused, 1000); // most corruptions are caught, none crashed
}

TEST(ModelIo, MissingFileIsAClearError) {
    try {
        load_model("/nonexistent/model.json");
        FAIL();
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos) << e.what();
    }
}

// A FIFO reports size 0, as a pipe or `--config <(...)` does: read_file must
// read it to its end, across several chunks, and still keep to its limit.
namespace {

struct Fifo {
    std::string path;
    Fifo() {
        char dir[] = "/tmp/dmc_fifo_XXXXXX";
        EXPECT_NE(mkdtemp(dir), nullptr);
        path = std::string(dir) + "/fifo";
        EXPECT_EQ(mkfifo(path.c_str(), 0600), 0);
    }
    ~Fifo() {
        unlink(path.c_str());
        rmdir(path.substr(0, path.rfind('/')).c_str());
    }
    // Reads the FIFO with read_file while a thread writes `contents` into it.
    std::string read_while_writing(const std::string &contents, int64_t max_bytes) {
        std::thread writer([&] {
            FILE *f = std::fopen(path.c_str(), "wb");
            if (!f) return;
            std::fwrite(contents.data(), 1, contents.size(), f);
            std::fclose(f);
        });
        struct Join {
            std::thread &t;
            ~Join() { t.join(); }
        } join{writer};
        return read_file(path, max_bytes, "test file");
    }
};

} // namespace

TEST(ReadFile, ReadsAFifoToItsEnd) {
    Fifo fifo;
    std::string contents(200000, '\0');
    for (size_t i = 0; i < contents.size(); ++i) contents[i] = char('a' + i % 26);
    EXPECT_EQ(fifo.read_while_writing(contents, 1 << 20), contents);
}

TEST(ReadFile, RefusesAFifoPastTheLimit) {
    Fifo fifo;
    try {
        fifo.read_while_writing(std::string(100, 'x'), 50);
        FAIL() << "read 100 bytes under a limit of 50";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("more than the limit of 50 bytes"), std::string::npos)
            << e.what();
    }
}

TEST(ReadFile, RefusesADirectory) {
    try {
        read_file("/tmp", 1 << 20, "test file");
        FAIL();
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
    }
}
