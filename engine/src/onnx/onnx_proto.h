// onnx_proto.h - the part of ONNX's ModelProto the importer reads
// (internal), decoded from untrusted bytes by parse_onnx(). Field numbers
// are those of onnx.proto (onnx 1.12, IR version 8); fields the importer
// does not need are skipped unread. Tensors are decoded and checked against
// their shape here, so the importer sees only consistent data.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dmc::onnx {

// TensorProto.DataType values the importer decodes.
constexpr int kFloat = 1, kInt64 = 7;

// Limits on what one file may hold, checked while parsing so that a count
// read from the file never sizes an allocation on its own.
constexpr int kMaxNodes = 10000;            // nodes, initializers, inputs, outputs
constexpr int kMaxNodeArity = 256;          // inputs or outputs of one node, attributes
constexpr int kMaxRank = 8;                 // dimensions of one tensor or value
constexpr size_t kMaxAttributeValues = 4096; // ints or floats of one attribute
constexpr size_t kMaxNameBytes = 4096;      // any name or string
constexpr int64_t kMaxTensorElements = int64_t(1) << 26; // = limits::kMaxParameters
constexpr int64_t kMaxTotalElements = int64_t(1) << 27;  // all tensors together
constexpr int64_t kMaxItems = 200000;       // nodes, names, attributes, tensors, dims in all
constexpr int64_t kMaxInt64Values = 1 << 20; // int64 tensor values and attribute ints in all

struct Tensor {
    std::string name;
    std::vector<int64_t> dims;
    int data_type = 0;
    bool decoded = false;        // true for FLOAT and INT64: the values below
    std::vector<float> floats;   // FLOAT
    std::vector<int64_t> ints;   // INT64
    int64_t count() const;       // product of dims (1 for a scalar)
};

// AttributeProto.AttributeType values.
enum AttributeType { kAttrFloat = 1, kAttrInt = 2, kAttrString = 3, kAttrTensor = 4, kAttrGraph = 5,
                     kAttrFloats = 6, kAttrInts = 7 };

struct Attribute {
    std::string name;
    int type = 0;
    float f = 0.0f;
    int64_t i = 0;
    std::string s;
    bool has_tensor = false;
    Tensor t;
    std::vector<float> floats;
    std::vector<int64_t> ints;
};

struct Node {
    std::string name, op_type, domain;
    std::vector<std::string> inputs, outputs;
    std::vector<Attribute> attributes;
    const Attribute *find(const std::string &attribute) const; // nullptr when absent
};

// One dimension of a value's shape: a number, or a symbolic name (a batch).
struct Dim {
    bool known = false;
    int64_t value = 0;
    std::string param;
};

struct ValueInfo {
    std::string name;
    bool is_tensor = false, has_shape = false;
    int elem_type = 0;
    std::vector<Dim> dims;
};

struct Graph {
    std::string name;
    std::vector<Node> nodes;
    std::vector<Tensor> initializers;
    std::vector<ValueInfo> inputs, outputs;
};

struct ModelProto {
    int64_t ir_version = 0;
    std::string producer_name, producer_version;
    std::vector<std::pair<std::string, int64_t>> opsets; // (domain, version)
    bool has_graph = false;
    Graph graph;
};

// Decodes a ModelProto, or throws dmc::Error naming the message and field
// where the bytes go wrong.
ModelProto parse_onnx(const std::string &bytes);

// A name from the file, for an error message: at most 100 characters,
// quoted, with control and non-ASCII bytes written as \xNN.
std::string quote(const std::string &name);
// The same without the quotes (for an op type, or metadata).
std::string printable(const std::string &name);

} // namespace dmc::onnx
