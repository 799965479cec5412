// The ONNX wire reader and importer on hand-built bytes: a tiny valid
// model written by the writer below, then that model broken in the ways
// a hostile or damaged file is (truncated, wrong wire types, lengths past
// the end, overlong varints, huge shapes, counts that do not match): each
// must be a dmc::Error with a message saying what is wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dmc/error.h"
#include "dmc/onnx.h"
#include "onnx/onnx_proto.h"
#include "onnx/protobuf_reader.h"

namespace {

// A protobuf writer just big enough for these tests.
struct Pb {
    std::string out;

    Pb &varint(uint64_t v) {
        do {
            out += char((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        return *this;
    }
    Pb &tag(int field, int wire_type) { return varint(uint64_t(field) << 3 | uint64_t(wire_type)); }
    Pb &i(int field, int64_t v) { return tag(field, 0).varint(uint64_t(v)); }
    Pb &s(int field, const std::string &bytes) {
        tag(field, 2).varint(bytes.size());
        out += bytes;
        return *this;
    }
    Pb &m(int field, const Pb &message) { return s(field, message.out); }
    Pb &f(int field, float v) {
        tag(field, 5);
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        for (int k = 0; k < 4; ++k) out += char(bits >> (8 * k) & 255);
        return *this;
    }
};

// TensorProto: FLOAT, dims, float_data one field per value.
Pb float_tensor(const std::string &name, const std::vector<int64_t> &dims, const std::vector<float> &values) {
    Pb t;
    for (int64_t d : dims) t.i(1, d);
    t.i(2, 1).s(8, name);
    for (float v : values) t.f(4, v);
    return t;
}

Pb value_info(const std::string &name, const std::vector<int64_t> &dims) {
    Pb shape;
    for (int64_t d : dims) shape.m(1, Pb().i(1, d));
    return Pb().s(1, name).m(2, Pb().m(1, Pb().i(1, 1).m(2, shape)));
}

Pb node(const std::string &op, const std::vector<std::string> &inputs, const std::string &output,
        const std::string &name) {
    Pb n;
    for (const std::string &in : inputs) n.s(1, in);
    return n.s(2, output).s(3, name).s(4, op);
}

// input [1, 1, 2, 2] -> Flatten -> Gemm (transB 1, weight [2, 4], bias [2]).
Pb graph(const Pb &weight) {
    Pb gemm = node("Gemm", {"flat", "w", "b"}, "out", "gemm");
    gemm.m(5, Pb().s(1, "transB").i(3, 1).i(20, 2));
    return Pb()
        .m(1, node("Flatten", {"input"}, "flat", "flatten"))
        .m(1, gemm)
        .s(2, "tiny")
        .m(5, weight)
        .m(5, float_tensor("b", {2}, {0.5f, -0.5f}))
        .m(11, value_info("input", {1, 1, 2, 2}))
        .m(12, value_info("out", {1, 2}));
}

const std::vector<float> kWeights = {1, 2, 3, 4, -1, -2, -3, -4};

std::string model_bytes(const Pb &g) {
    return Pb().i(1, 8).m(8, Pb().s(1, "").i(2, 13)).m(7, g).out;
}

std::string tiny_model() { return model_bytes(graph(float_tensor("w", {2, 4}, kWeights))); }

// The message of the dmc::Error that `bytes` raises ("" when none).
std::string import_error(const std::string &bytes) {
    try {
        dmc::import_onnx(bytes, dmc::ImportOptions{});
    } catch (const dmc::Error &e) {
        return e.what();
    }
    return "";
}

#define EXPECT_ERROR_HAS(bytes, text) \
    EXPECT_NE(import_error(bytes).find(text), std::string::npos) << "message: " << import_error(bytes)

TEST(OnnxReader, TinyModelImports) {
    std::vector<std::string> notes;
    const dmc::Model m = dmc::import_onnx(tiny_model(), dmc::ImportOptions{}, &notes);
    EXPECT_EQ(m.name, "tiny");
    ASSERT_EQ(m.layers.size(), 2u);
    EXPECT_EQ(m.layers[0].type, dmc::LayerType::Flatten);
    EXPECT_EQ(m.layers[1].type, dmc::LayerType::Linear);
    // One channel: the flatten orders agree, the weights stay as written.
    EXPECT_EQ(m.layers[1].weight, kWeights);
    EXPECT_EQ(m.layers[1].bias, (std::vector<float>{0.5f, -0.5f}));
    EXPECT_EQ(m.input.shape, (dmc::Shape{1, 2, 2}));
    EXPECT_EQ(m.input.mean, 0.0f);
    EXPECT_EQ(m.input.std, 1.0f);
    EXPECT_TRUE(dmc::looks_like_onnx(tiny_model()));
}

TEST(OnnxReader, EveryTruncationIsAnError) {
    const std::string bytes = tiny_model();
    for (size_t n = 0; n < bytes.size(); ++n) {
        const std::string message = import_error(bytes.substr(0, n));
        EXPECT_NE(message, "") << "truncated to " << n << " of " << bytes.size() << " bytes";
        EXPECT_EQ(message.rfind("ONNX ", 0), 0u) << message;
    }
}

TEST(OnnxReader, WrongWireTypes) {
    // The graph as a varint.
    EXPECT_ERROR_HAS(Pb().i(1, 8).i(7, 5).out, "graph (field 7) has wire type varint, expected length-delimited");
    // ir_version as a string.
    EXPECT_ERROR_HAS(Pb().s(1, "x").out, "ir_version (field 1) has wire type length-delimited, expected varint");
    // A float_data value as a varint inside a tensor.
    Pb bad_tensor = Pb().i(1, 2).i(2, 1).s(8, "w").i(4, 7);
    EXPECT_ERROR_HAS(model_bytes(graph(bad_tensor)), "float_data (field 4) has wire type varint, expected 32-bit");
    // Groups (wire types 3 and 4) and the undefined 6 and 7.
    EXPECT_ERROR_HAS(Pb().tag(7, 3).out, "is a group");
    EXPECT_ERROR_HAS(Pb().tag(7, 6).out, "wire type 6 is not valid");
}

TEST(OnnxReader, LengthPastTheEnd) {
    std::string bytes = Pb().i(1, 8).tag(7, 2).varint(1000).out + "abc";
    EXPECT_ERROR_HAS(bytes, "length 1000 runs past the end (3 bytes left)");
    // A length of 2^63 must not wrap around.
    bytes = Pb().tag(7, 2).varint(uint64_t(1) << 63).out;
    EXPECT_ERROR_HAS(bytes, "runs past the end");
}

TEST(OnnxReader, VarintOfElevenBytes) {
    const std::string bytes = "\x08" + std::string(10, '\xff') + "\x01";
    EXPECT_ERROR_HAS(bytes, "a varint longer than 10 bytes");
    // Ten bytes whose last carries more than bit 63.
    EXPECT_ERROR_HAS("\x08" + std::string(9, '\xff') + "\x02", "a varint longer than 10 bytes");
}

TEST(OnnxReader, HugeDimensions) {
    // 2^40 x 2^40 elements and no data: refused from the shape alone.
    EXPECT_ERROR_HAS(model_bytes(graph(float_tensor("w", {int64_t(1) << 40, int64_t(1) << 40}, {}))),
                     "tensor 'w' has more than 67108864 elements");
    EXPECT_ERROR_HAS(model_bytes(graph(float_tensor("w", {2, -4}, {}))), "tensor 'w' has a negative dimension -4");
    // A graph input dimension past the engine's limit.
    Pb g = graph(float_tensor("w", {2, 4}, kWeights));
    Pb big = Pb().m(1, node("Flatten", {"input"}, "out", "flatten")).m(11, value_info("input", {1, 1, 1 << 20, 1 << 20}))
                 .m(12, value_info("out", {1, 2}));
    EXPECT_ERROR_HAS(model_bytes(big), "input 'input': dimension 2 must be a number in [1, 65536]");
}

TEST(OnnxReader, WeightCountDoesNotMatchShape) {
    std::vector<float> seven(kWeights.begin(), kWeights.end() - 1);
    EXPECT_ERROR_HAS(model_bytes(graph(float_tensor("w", {2, 4}, seven))),
                     "tensor 'w' has 7 values but its shape needs 8");
    // raw_data one byte short.
    Pb raw = Pb().i(1, 2).i(1, 4).i(2, 1).s(8, "w").s(9, std::string(31, '\0'));
    EXPECT_ERROR_HAS(model_bytes(graph(raw)), "tensor 'w' has 31 bytes of raw_data but its shape needs 8 values");
    // Packed float_data of 30 bytes.
    Pb packed = Pb().i(1, 2).i(1, 4).i(2, 1).s(8, "w").s(4, std::string(30, '\0'));
    EXPECT_ERROR_HAS(model_bytes(graph(packed)), "30 bytes of packed floats is not a multiple of 4");
}

TEST(OnnxReader, ExternalDataRefused) {
    Pb t = Pb().i(1, 2).i(1, 4).i(2, 1).s(8, "w").m(13, Pb().s(1, "location").s(2, "w.bin")).i(14, 1);
    EXPECT_ERROR_HAS(model_bytes(graph(t)), "tensor 'w' keeps its data in an external file (external_data)");
}

TEST(OnnxReader, NestingDepthBounded) {
    std::string bytes;
    dmc::pb::MessageReader outer(bytes, "m");
    EXPECT_NO_THROW(dmc::pb::MessageReader(bytes.data(), 0, "deep", dmc::pb::kMaxDepth));
    EXPECT_THROW(dmc::pb::MessageReader(bytes.data(), 0, "deep", dmc::pb::kMaxDepth + 1), dmc::Error);
}

TEST(OnnxReader, NamesInMessagesAreEscapedAndShort) {
    const std::string name = std::string("a\n\x01\xff") + std::string(300, 'x');
    const std::string quoted = dmc::onnx::quote(name);
    EXPECT_EQ(quoted.substr(0, 14), "'a\\x0a\\x01\\xff");
    EXPECT_LE(quoted.size(), 130u);
    EXPECT_EQ(quoted.find('\n'), std::string::npos);
}

TEST(OnnxImport, GraphShapesRefused) {
    const Pb w = float_tensor("w", {2, 4}, kWeights);
    // An unknown input name: the Gemm's weight is missing.
    Pb missing = Pb().m(1, node("Flatten", {"input"}, "flat", "flatten")).m(1, node("Gemm", {"flat", "nope"}, "out", "gemm"))
                     .m(11, value_info("input", {1, 1, 2, 2})).m(12, value_info("out", {1, 2}));
    EXPECT_ERROR_HAS(model_bytes(missing), "node 'gemm' (Gemm): its input 'nope' is no initializer");
    // A cycle: a -> b -> a.
    Pb cycle = Pb().m(1, node("Relu", {"input", "back"}, "a", "r1")).m(1, node("Relu", {"a"}, "back", "r2"))
                   .m(11, value_info("input", {1, 1, 2, 2})).m(12, value_info("out", {1, 2}));
    EXPECT_NE(import_error(model_bytes(cycle)), "");
    Pb loop = Pb().m(1, node("Relu", {"input"}, "a", "r1")).m(1, node("Relu", {"a"}, "input", "r2"))
                  .m(11, value_info("input", {1, 1, 2, 2})).m(12, value_info("out", {1, 2}));
    EXPECT_ERROR_HAS(model_bytes(loop), "node 'r1' (Relu): is reached twice: the graph has a cycle");
    // A branch: the flatten's output read twice.
    Pb branch = graph(w);
    branch.m(1, node("Relu", {"flat"}, "other", "extra"));
    EXPECT_ERROR_HAS(model_bytes(branch), "the graph branches: tensor 'flat' is read by 2 nodes");
    // An op the engine has no layer for.
    Pb sigmoid = Pb().m(1, node("Sigmoid", {"input"}, "out", "sig")).m(11, value_info("input", {1, 1, 2, 2}))
                     .m(12, value_info("out", {1, 1, 2, 2}));
    EXPECT_ERROR_HAS(model_bytes(sigmoid), "node 'sig' (Sigmoid): operator not supported; supported: Conv");
}

TEST(OnnxImport, LooksLikeOnnxByContent) {
    EXPECT_TRUE(dmc::looks_like_onnx(tiny_model()));
    EXPECT_FALSE(dmc::looks_like_onnx("{\"format\": \"dmc-model\"}"));
    EXPECT_FALSE(dmc::looks_like_onnx(""));
    EXPECT_FALSE(dmc::looks_like_onnx(tiny_model().substr(0, 20)));
    EXPECT_EQ(dmc::c_identifier("lenet-5 v2"), "lenet_5_v2");
    EXPECT_EQ(dmc::c_identifier("5net"), "model_5net");
    EXPECT_EQ(dmc::c_identifier(""), "model");
}

} // namespace
