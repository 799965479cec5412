// onnx_import.cpp - an ONNX graph as the engine's float Model (see
// engine/ONNX.md for what is imported and what is refused).
//
// Why a protobuf reader of our own (onnx/protobuf_reader.h) and not
// libprotobuf: Debian's libprotobuf does not build under Emscripten, and
// the browser imports ONNX through this same code; the subset of onnx.proto
// the importer needs is a handful of messages; and a small reader can be
// fuzzed whole (tests/fuzz/fuzz_onnx.cpp), checking every length and count
// of the untrusted file before it is used.
//
// The importer walks the graph as one chain from the input to the output.
// Each node on it becomes an engine layer, is folded into one (batch norm,
// a bias Add, a Pad before average pooling, the input normalisation), or is
// removed (Dropout, Identity, a final Softmax); anything else is refused by
// name. Layouts change on the way: ONNX is NCHW with OIHW weights, the
// engine HWC with OHWI weights, and the first linear layer after a flatten
// has its columns reordered from CHW to HWC.
#include <cctype>
#include <cmath>
#include <deque>
#include <map>
#include <set>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dmc/error.h"
#include "dmc/onnx.h"
#include "io_util.h"
#include "onnx/onnx_proto.h"
#include "onnx/protobuf_reader.h"

namespace dmc {

using onnx::quote;

namespace {

const char *kSupported =
    "supported: Conv (group 1, or depthwise: group = in = out channels), Gemm, MatMul (+ Add), Relu, "
    "Clip (min 0, any max: ReLU6), BatchNormalization (after Conv/Gemm/MatMul), MaxPool, AveragePool, "
    "GlobalAveragePool, Flatten, Reshape to [N, -1], "
    "Dropout, Identity, Constant, Pad (zeros, before AveragePool), Sub/Div/Mul/Add by a scalar at the "
    "input, and a final Softmax/LogSoftmax";

constexpr int kMinOpset = 11, kMaxOpset = 17;

std::string node_text(const onnx::Node &n) {
    const std::string id = n.name.empty() ? "with output " + quote(n.outputs.empty() ? "" : n.outputs[0]) : quote(n.name);
    return "node " + id + " (" + onnx::printable(n.op_type) + ")";
}

// ---- attributes, with their types checked ---------------------------------

[[noreturn]] void node_error(const onnx::Node &n, const std::string &message) {
    throw Error("ONNX " + node_text(n) + ": " + message);
}

int64_t attr_int(const onnx::Node &n, const char *name, int64_t fallback) {
    const onnx::Attribute *a = n.find(name);
    if (!a) return fallback;
    if (a->type != onnx::kAttrInt) node_error(n, std::string("attribute '") + name + "' must be an int");
    return a->i;
}

float attr_float(const onnx::Node &n, const char *name, float fallback) {
    const onnx::Attribute *a = n.find(name);
    if (!a) return fallback;
    if (a->type != onnx::kAttrFloat) node_error(n, std::string("attribute '") + name + "' must be a float");
    return a->f;
}

std::string attr_string(const onnx::Node &n, const char *name, const std::string &fallback) {
    const onnx::Attribute *a = n.find(name);
    if (!a) return fallback;
    if (a->type != onnx::kAttrString) node_error(n, std::string("attribute '") + name + "' must be a string");
    return a->s;
}

std::vector<int64_t> attr_ints(const onnx::Node &n, const char *name, std::vector<int64_t> fallback) {
    const onnx::Attribute *a = n.find(name);
    if (!a) return fallback;
    if (a->type != onnx::kAttrInts) node_error(n, std::string("attribute '") + name + "' must be a list of ints");
    return a->ints;
}

std::string ints_text(const std::vector<int64_t> &v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size() && i < 16; ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + (v.size() > 16 ? ", ...]" : "]");
}

std::string float_text(double v) {
    std::ostringstream s;
    s.precision(9);
    s << v;
    return s.str();
}

// A square 2-D window attribute (kernel_shape, strides): [a, a] -> a.
int64_t square(const onnx::Node &n, const char *name, const std::vector<int64_t> &v) {
    if (v.size() != 2 || v[0] != v[1])
        node_error(n, std::string(name) + " " + ints_text(v) + " is not square (the engine's windows are)");
    return v[0];
}

// Symmetric padding [top, left, bottom, right] -> one number.
int64_t symmetric_pads(const onnx::Node &n, const std::vector<int64_t> &pads) {
    if (pads.size() != 4 || pads[0] != pads[1] || pads[0] != pads[2] || pads[0] != pads[3] || pads[0] < 0)
        node_error(n, "pads " + ints_text(pads) + " are not the same on all four sides (the engine pads symmetrically)");
    return pads[0];
}

void require_plain_window(const onnx::Node &n) {
    const std::string auto_pad = attr_string(n, "auto_pad", "NOTSET");
    if (auto_pad != "NOTSET" && auto_pad != "VALID")
        node_error(n, "auto_pad " + quote(auto_pad) + " is not supported (give explicit pads)");
    for (int64_t d : attr_ints(n, "dilations", {1, 1}))
        if (d != 1) node_error(n, "dilation " + std::to_string(d) + " is not supported (only 1)");
}

// ---- the importer ----------------------------------------------------------

class Importer {
  public:
    Importer(const onnx::ModelProto &proto, const ImportOptions &options, std::vector<std::string> *notes)
        : proto_(proto), graph_(proto.graph), options_(options), notes_(notes) {}

    Model run();

  private:
    // The graph's index.
    void check_opset();
    void collect_constants();
    void index_nodes();
    void find_input_and_output();
    const onnx::Node *next_on_chain(const std::string &tensor);
    void check_all_visited() const;

    // What flows along the chain.
    void set_shape(const onnx::Node &n, Shape s, bool flat);
    const onnx::Tensor &constant(const onnx::Node &n, size_t input, int data_type) const;
    bool has_input(const onnx::Node &n, size_t input) const {
        return input < n.inputs.size() && !n.inputs[input].empty();
    }

    // One function per op (or family).
    void check_chain_inputs(const onnx::Node &n) const;
    void import_node(const onnx::Node &n, bool last);
    void conv(const onnx::Node &n);
    void depthwise_conv(const onnx::Node &n, const onnx::Tensor &w);
    void gemm(const onnx::Node &n);
    void matmul(const onnx::Node &n);
    void add_bias(const onnx::Node &n);
    void clip(const onnx::Node &n);
    void batch_norm(const onnx::Node &n);
    void pool(const onnx::Node &n, LayerType type);
    void global_average_pool(const onnx::Node &n);
    void pad(const onnx::Node &n);
    void flatten(const onnx::Node &n);
    void flatten_layer(const onnx::Node &n);
    void reshape(const onnx::Node &n);
    void normalisation(const onnx::Node &n);
    void final_softmax(const onnx::Node &n, bool last);

    Layer &emit(const onnx::Node &n, LayerType type, const std::string &prefix);
    void linear(const onnx::Node &n, std::vector<float> weight, int64_t out, int64_t in);
    void bias(const onnx::Node &n, size_t input, Layer *layer, bool add);
    void finish_input_spec();
    std::string metadata() const;
    void note(const std::string &line) {
        if (notes_) notes_->push_back(line);
    }

    const onnx::ModelProto &proto_;
    const onnx::Graph &graph_;
    const ImportOptions &options_;
    std::vector<std::string> *notes_;
    int64_t opset_ = 0;

    std::map<std::string, const onnx::Tensor *> constants_;
    std::deque<onnx::Tensor> owned_;            // tensors made from Constant attributes
    std::set<size_t> constant_nodes_;           // Constant and Identity-of-constant nodes
    std::map<std::string, size_t> producer_;
    std::map<std::string, std::vector<size_t>> consumers_;
    std::vector<bool> visited_;
    std::string input_name_, output_name_;
    std::string current_; // the chain's tensor the node being imported reads

    Model model_;
    Shape shape_;            // the activation's shape, engine order (C, H, W)
    bool flat_ = false;      // ONNX rank 2 ([N, F]) rather than rank 4
    bool have_flatten_order_ = false; // a flatten of flatten_shape_ awaits its linear layer
    Shape flatten_shape_;
    int foldable_ = -1;      // conv/linear layer with nothing after it yet (batch norm, bias)
    int64_t pending_pad_ = 0; // a Pad waiting for its AveragePool
    double scale_ = 1.0, shift_ = 0.0; // the graph's own input normalisation: x * scale_ + shift_
    std::vector<std::string> normalisation_ops_;
    std::map<std::string, int> counters_;
    std::map<std::string, std::string> sources_; // layer name -> ONNX node name, for metadata
};

void Importer::check_opset() {
    for (const auto &opset : proto_.opsets)
        if (opset.first.empty() || opset.first == "ai.onnx") opset_ = opset.second;
    if (opset_ == 0) throw Error("ONNX model: it imports no version of the default operator set (opset_import)");
    if (opset_ < kMinOpset || opset_ > kMaxOpset)
        throw Error("ONNX model: opset " + std::to_string(opset_) + " is not supported (opsets " +
                    std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset) +
                    "; export with torch.onnx.export(..., opset_version=13))");
}

// Initializers, Constant nodes and Identity nodes of constants (torch writes
// one per duplicated parameter): the values a node reads rather than the
// activation it transforms.
void Importer::collect_constants() {
    for (const onnx::Tensor &t : graph_.initializers)
        if (!constants_.emplace(t.name, &t).second) throw Error("ONNX model: two initializers are named " + quote(t.name));
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
        const onnx::Node &n = graph_.nodes[i];
        if (n.domain != "" && n.domain != "ai.onnx") continue;
        const onnx::Tensor *value = nullptr;
        if (n.op_type == "Constant" && n.outputs.size() == 1) {
            owned_.emplace_back();
            onnx::Tensor &t = owned_.back();
            if (n.attributes.size() != 1) node_error(n, "needs exactly one value attribute");
            const onnx::Attribute &a = n.attributes[0];
            if (a.name == "value" && a.has_tensor) t = a.t;
            else if (a.name == "value_float" && a.type == onnx::kAttrFloat) t.floats = {a.f};
            else if (a.name == "value_floats" && a.type == onnx::kAttrFloats) t.floats = a.floats, t.dims = {int64_t(a.floats.size())};
            else if (a.name == "value_int" && a.type == onnx::kAttrInt) t.ints = {a.i};
            else if (a.name == "value_ints" && a.type == onnx::kAttrInts) t.ints = a.ints, t.dims = {int64_t(a.ints.size())};
            else node_error(n, "its value " + quote(a.name) + " is not a float or int tensor");
            if (a.name != "value") {
                t.data_type = t.floats.empty() && !t.ints.empty() ? onnx::kInt64 : onnx::kFloat;
                t.decoded = true;
            }
            t.name = n.outputs[0];
            value = &t;
        } else if (n.op_type == "Identity" && n.inputs.size() == 1 && n.outputs.size() == 1 &&
                   constants_.count(n.inputs[0])) {
            value = constants_[n.inputs[0]];
        }
        if (!value) continue;
        if (!constants_.emplace(n.outputs[0], value).second)
            node_error(n, "its output " + quote(n.outputs[0]) + " is also an initializer's name");
        constant_nodes_.insert(i);
    }
}

void Importer::index_nodes() {
    visited_.assign(graph_.nodes.size(), false);
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
        const onnx::Node &n = graph_.nodes[i];
        for (const std::string &out : n.outputs)
            if (!out.empty() && !producer_.emplace(out, i).second)
                node_error(n, "its output " + quote(out) + " is also written by another node");
        if (constant_nodes_.count(i)) continue;
        for (const std::string &in : n.inputs)
            if (!in.empty() && !constants_.count(in)) consumers_[in].push_back(i);
    }
    for (size_t i = 0; i < graph_.nodes.size(); ++i) {
        if (constant_nodes_.count(i)) continue;
        const onnx::Node &n = graph_.nodes[i];
        for (const std::string &in : n.inputs)
            if (!in.empty() && !constants_.count(in) && !producer_.count(in) && in != input_name_)
                node_error(n, "its input " + quote(in) + " is no initializer, Constant, graph input or node "
                                                         "output (a missing initializer?)");
    }
}

void Importer::find_input_and_output() {
    std::vector<const onnx::ValueInfo *> inputs;
    for (const onnx::ValueInfo &v : graph_.inputs)
        if (!constants_.count(v.name)) inputs.push_back(&v); // old exporters list initializers as inputs
    if (inputs.size() != 1)
        throw Error("ONNX model: the graph has " + std::to_string(inputs.size()) +
                    " inputs that are not initializers; the engine takes exactly one");
    if (graph_.outputs.size() != 1)
        throw Error("ONNX model: the graph has " + std::to_string(graph_.outputs.size()) +
                    " outputs; the engine gives exactly one");
    const onnx::ValueInfo &in = *inputs[0];
    input_name_ = in.name;
    output_name_ = graph_.outputs[0].name;
    const std::string where = "ONNX model: input " + quote(in.name);
    if (!in.is_tensor || !in.has_shape) throw Error(where + " has no tensor shape");
    if (in.elem_type != onnx::kFloat) throw Error(where + " is not float32 (element type " + std::to_string(in.elem_type) + ")");
    if (in.dims.size() != 4 && in.dims.size() != 2)
        throw Error(where + " has rank " + std::to_string(in.dims.size()) +
                    "; the engine takes [N, C, H, W] images or [N, F] vectors");
    if (in.dims[0].known && in.dims[0].value != 1)
        throw Error(where + ": batch dimension " + std::to_string(in.dims[0].value) + " (use 1 or a dynamic batch)");
    std::vector<int> d;
    for (size_t i = 1; i < in.dims.size(); ++i) {
        if (!in.dims[i].known || in.dims[i].value < 1 || in.dims[i].value > limits::kMaxDimension)
            throw Error(where + ": dimension " + std::to_string(i) + " must be a number in [1, " +
                        std::to_string(limits::kMaxDimension) + "] (" +
                        (in.dims[i].known ? std::to_string(in.dims[i].value) : quote(in.dims[i].param)) + ")");
        d.push_back(int(in.dims[i].value));
    }
    flat_ = d.size() == 1;
    shape_ = flat_ ? Shape{d[0], 1, 1} : Shape{d[0], d[1], d[2]};
    if (shape_.size() > limits::kMaxActivationElements)
        throw Error(where + ": " + shape_.str() + " has more than " + std::to_string(limits::kMaxActivationElements) + " values");
    model_.input.shape = shape_;
}

// The one node that reads `tensor`, or nullptr at the graph output.
const onnx::Node *Importer::next_on_chain(const std::string &tensor) {
    const auto it = consumers_.find(tensor);
    const std::vector<size_t> none;
    const std::vector<size_t> &readers = it == consumers_.end() ? none : it->second;
    if (tensor == output_name_) {
        if (!readers.empty())
            node_error(graph_.nodes[readers[0]], "reads the graph output " + quote(tensor) +
                                                     "; only a single chain from input to output is supported");
        return nullptr;
    }
    if (readers.empty())
        throw Error("ONNX model: tensor " + quote(tensor) + " is read by no node, and the graph output " +
                    quote(output_name_) + " is not reached from the input along a single chain");
    if (readers.size() > 1) {
        std::string list;
        for (size_t i = 0; i < readers.size() && i < 4; ++i) list += (i ? ", " : "") + node_text(graph_.nodes[readers[i]]);
        for (size_t r : readers)
            if (graph_.nodes[r].op_type == "Shape")
                node_error(graph_.nodes[r], "reads the shape of " + quote(tensor) +
                                                " at run time (as x.view(x.size(0), -1) exports with a dynamic batch), "
                                                "which is not supported: use torch.flatten(x, 1) or nn.Flatten");
        throw Error("ONNX model: the graph branches: tensor " + quote(tensor) + " is read by " +
                    std::to_string(readers.size()) + " nodes (" + list +
                    "); only a single chain of layers from input to output is supported");
    }
    const size_t index = readers[0];
    const onnx::Node &n = graph_.nodes[index];
    if (visited_[index]) node_error(n, "is reached twice: the graph has a cycle");
    visited_[index] = true;
    return &n;
}

void Importer::check_all_visited() const {
    for (size_t i = 0; i < graph_.nodes.size(); ++i)
        if (!visited_[i] && !constant_nodes_.count(i))
            node_error(graph_.nodes[i], "is not on the chain from the input " + quote(input_name_) +
                                            " to the output " + quote(output_name_) +
                                            " (only a single chain of layers is supported)");
}

void Importer::set_shape(const onnx::Node &n, Shape s, bool flat) {
    if (s.channels < 1 || s.height < 1 || s.width < 1 || s.size() > limits::kMaxActivationElements)
        node_error(n, "its output " + s.str() + " is empty or has more than " +
                          std::to_string(limits::kMaxActivationElements) + " values");
    shape_ = s;
    flat_ = flat;
}

const onnx::Tensor &Importer::constant(const onnx::Node &n, size_t input, int data_type) const {
    if (!has_input(n, input)) node_error(n, "input " + std::to_string(input) + " is missing");
    const auto it = constants_.find(n.inputs[input]);
    if (it == constants_.end())
        node_error(n, "input " + quote(n.inputs[input]) + " must be a constant (an initializer or Constant); "
                                                          "only a single chain of layers is supported");
    const onnx::Tensor &t = *it->second;
    if (!t.decoded || t.data_type != data_type)
        node_error(n, "input " + quote(n.inputs[input]) + " has data type " + std::to_string(t.data_type) + ", expected " +
                          (data_type == onnx::kFloat ? "FLOAT (1)" : "INT64 (7)"));
    if (data_type == onnx::kFloat)
        for (float v : t.floats)
            if (!std::isfinite(v)) node_error(n, "input " + quote(n.inputs[input]) + " holds a NaN or infinite value");
    return t;
}

Layer &Importer::emit(const onnx::Node &n, LayerType type, const std::string &prefix) {
    if (model_.layers.size() >= size_t(limits::kMaxLayers))
        node_error(n, "the model would have more than " + std::to_string(limits::kMaxLayers) + " layers");
    Layer l;
    l.type = type;
    l.name = prefix + std::to_string(++counters_[prefix]);
    sources_[l.name] = n.name;
    model_.layers.push_back(std::move(l));
    foldable_ = type == LayerType::Conv2d || type == LayerType::Linear || type == LayerType::DepthwiseConv2d
                    ? int(model_.layers.size()) - 1
                    : -1;
    return model_.layers.back();
}

void Importer::import_node(const onnx::Node &n, bool last) {
    if (n.domain != "" && n.domain != "ai.onnx")
        node_error(n, "operator domain " + quote(n.domain) + " is not supported; " + kSupported);
    const std::string &op = n.op_type;
    if (pending_pad_ != 0 && op != "AveragePool")
        node_error(n, "follows a Pad; padding is only supported directly before an AveragePool");
    const bool at_input = model_.layers.empty();
    if (op == "Conv") conv(n);
    else if (op == "Gemm") gemm(n);
    else if (op == "MatMul") matmul(n);
    else if (op == "Relu") emit(n, LayerType::ReLU, "relu");
    else if (op == "Clip") clip(n);
    else if (op == "BatchNormalization") batch_norm(n);
    else if (op == "MaxPool") pool(n, LayerType::MaxPool2d);
    else if (op == "AveragePool") pool(n, LayerType::AvgPool2d);
    else if (op == "GlobalAveragePool") global_average_pool(n);
    else if (op == "Pad") pad(n);
    else if (op == "Flatten") flatten(n);
    else if (op == "Reshape") reshape(n);
    else if (op == "Dropout" || op == "Identity") note("removed " + node_text(n) + " (it does nothing at inference)");
    else if (op == "Add" && !at_input) add_bias(n);
    else if ((op == "Sub" || op == "Div" || op == "Mul" || op == "Add") && at_input) normalisation(n);
    else if (op == "Softmax" || op == "LogSoftmax") final_softmax(n, last);
    else if (op == "Sub" || op == "Div" || op == "Mul")
        node_error(n, "arithmetic is supported only as the input normalisation at the start of the graph; " +
                          std::string(kSupported));
    else node_error(n, "operator not supported; " + std::string(kSupported));
}

// Every input but the chain's own must be a constant: a second activation
// input would join two branches.
void Importer::check_chain_inputs(const onnx::Node &n) const {
    const bool commutes = n.op_type == "Add" || n.op_type == "Mul";
    size_t chain_reads = 0;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
        if (n.inputs[i] == current_) {
            ++chain_reads;
            if (i != 0 && !(commutes && i == 1))
                node_error(n, "reads " + quote(current_) + " as input " + std::to_string(i) + ", not as its data input");
        } else if (!n.inputs[i].empty() && !constants_.count(n.inputs[i])) {
            node_error(n, "its input " + quote(n.inputs[i]) + " is neither a constant nor the chain's tensor " +
                              quote(current_) + "; only a single chain of layers is supported");
        }
    }
    if (chain_reads != 1) node_error(n, "reads " + quote(current_) + " more than once");
    if (n.outputs.empty() || n.outputs[0].empty()) node_error(n, "has no output");
    for (size_t i = 1; i < n.outputs.size(); ++i)
        if (!n.outputs[i].empty() && (consumers_.count(n.outputs[i]) || n.outputs[i] == output_name_))
            node_error(n, "its output " + std::to_string(i) + " " + quote(n.outputs[i]) +
                              " is used; only the first output of a node is supported");
}

void Importer::conv(const onnx::Node &n) {
    if (flat_) node_error(n, "its input is not an image [N, C, H, W]");
    require_plain_window(n);
    const onnx::Tensor &w = constant(n, 1, onnx::kFloat);
    if (w.dims.size() != 4) node_error(n, "weight " + ints_text(w.dims) + " is not 4-D (OIHW)");
    const int64_t out = w.dims[0], per_group = w.dims[1], k = w.dims[2];
    const int64_t group = attr_int(n, "group", 1);
    const bool depthwise = group != 1 && group == shape_.channels && out == group && per_group == 1;
    if (group != 1 && !depthwise)
        node_error(n, "grouped convolution (group " + std::to_string(group) +
                          ") is not supported; only group 1 and depthwise (group = input = output channels)");
    if (depthwise) return depthwise_conv(n, w);
    if (per_group != shape_.channels)
        node_error(n, "weight " + ints_text(w.dims) + " takes " + std::to_string(per_group) +
                          " input channels, the input " + shape_.str() + " has " + std::to_string(shape_.channels));
    if (w.dims[3] != k) node_error(n, "kernel " + ints_text(w.dims) + " is not square (the engine's are)");
    if (n.find("kernel_shape") && square(n, "kernel_shape", attr_ints(n, "kernel_shape", {})) != k)
        node_error(n, "kernel_shape does not match the weight " + ints_text(w.dims));
    const int64_t stride = square(n, "strides", attr_ints(n, "strides", {1, 1}));
    const int64_t padding = symmetric_pads(n, attr_ints(n, "pads", {0, 0, 0, 0}));
    if (k < 1 || k > limits::kMaxKernel || stride < 1 || stride > limits::kMaxStride || padding >= k ||
        out < 1 || out > limits::kMaxDimension)
        node_error(n, "kernel " + std::to_string(k) + ", stride " + std::to_string(stride) + ", padding " +
                          std::to_string(padding) + " or " + std::to_string(out) + " outputs out of the engine's range");
    if (shape_.height + 2 * padding < k || shape_.width + 2 * padding < k)
        node_error(n, "kernel " + std::to_string(k) + " is larger than its padded input " + shape_.str());
    const Shape in = shape_;
    Layer &l = emit(n, LayerType::Conv2d, "conv");
    l.in_channels = in.channels;
    l.out_channels = int(out);
    l.kernel = int(k);
    l.stride = int(stride);
    l.padding = int(padding);
    // OIHW -> OHWI.
    const int64_t c_in = in.channels;
    l.weight.resize(w.floats.size());
    for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < c_in; ++i)
            for (int64_t y = 0; y < k; ++y)
                for (int64_t x = 0; x < k; ++x)
                    l.weight[size_t(((o * k + y) * k + x) * c_in + i)] = w.floats[size_t(((o * c_in + i) * k + y) * k + x)];
    if (has_input(n, 2)) bias(n, 2, &l, false);
    set_shape(n, Shape{int(out), int((in.height + 2 * padding - k) / stride + 1), int((in.width + 2 * padding - k) / stride + 1)},
              false);
}

// Conv with group = input = output channels: weights [C][1][k][k] are the
// engine's [C][k][k] as they are.
void Importer::depthwise_conv(const onnx::Node &n, const onnx::Tensor &w) {
    const int64_t channels = w.dims[0], k = w.dims[2];
    if (w.dims[3] != k) node_error(n, "kernel " + ints_text(w.dims) + " is not square (the engine's are)");
    if (n.find("kernel_shape") && square(n, "kernel_shape", attr_ints(n, "kernel_shape", {})) != k)
        node_error(n, "kernel_shape does not match the weight " + ints_text(w.dims));
    const int64_t stride = square(n, "strides", attr_ints(n, "strides", {1, 1}));
    const int64_t padding = symmetric_pads(n, attr_ints(n, "pads", {0, 0, 0, 0}));
    if (k < 1 || k > limits::kMaxKernel || stride < 1 || stride > limits::kMaxStride || padding >= k)
        node_error(n, "kernel " + std::to_string(k) + ", stride " + std::to_string(stride) + ", padding " +
                          std::to_string(padding) + " out of the engine's range");
    if (shape_.height + 2 * padding < k || shape_.width + 2 * padding < k)
        node_error(n, "kernel " + std::to_string(k) + " is larger than its padded input " + shape_.str());
    const Shape in = shape_;
    Layer &l = emit(n, LayerType::DepthwiseConv2d, "dwconv");
    l.in_channels = l.out_channels = int(channels);
    l.kernel = int(k);
    l.stride = int(stride);
    l.padding = int(padding);
    l.weight = w.floats;
    if (has_input(n, 2)) bias(n, 2, &l, false);
    set_shape(n, Shape{in.channels, int((in.height + 2 * padding - k) / stride + 1),
                       int((in.width + 2 * padding - k) / stride + 1)},
              false);
}

// The bias (or, with `add`, an addition to it) from constant input `input`:
// one value per output, or one for all.
void Importer::bias(const onnx::Node &n, size_t input, Layer *l, bool add) {
    const onnx::Tensor &b = constant(n, input, onnx::kFloat);
    const int64_t out = l->out_channels;
    const bool per_output = b.count() == out && (b.dims.size() == 1 || (b.dims.size() == 2 && b.dims[0] == 1));
    if (!per_output && b.count() != 1)
        node_error(n, "bias " + quote(n.inputs[input]) + " has shape " + ints_text(b.dims) + "; expected [" +
                          std::to_string(out) + "] or one value");
    if (l->bias.empty()) l->bias.assign(size_t(out), 0.0f);
    for (int64_t o = 0; o < out; ++o) {
        const float v = b.floats[per_output ? size_t(o) : 0];
        l->bias[size_t(o)] = add ? l->bias[size_t(o)] + v : v;
    }
}

// A linear layer from `weight` ([out][in], ONNX's column order). After a
// flatten of an image, ONNX's columns are in CHW order and the engine's
// flatten gives HWC: the columns are reordered here, once.
void Importer::linear(const onnx::Node &n, std::vector<float> weight, int64_t out, int64_t in) {
    if (out < 1 || out > limits::kMaxDimension) node_error(n, std::to_string(out) + " outputs are out of the engine's range");
    Layer &l = emit(n, LayerType::Linear, "fc");
    l.in_channels = int(in);
    l.out_channels = int(out);
    if (have_flatten_order_) {
        const Shape f = flatten_shape_;
        const int64_t hw = int64_t(f.height) * f.width;
        l.weight.resize(weight.size());
        for (int64_t o = 0; o < out; ++o)
            for (int64_t c = 0; c < f.channels; ++c)
                for (int64_t p = 0; p < hw; ++p)
                    l.weight[size_t(o * in + p * f.channels + c)] = weight[size_t(o * in + c * hw + p)];
        if (f.channels > 1 && hw > 1)
            note(l.name + ": columns reordered from ONNX's flatten order (CHW of " + f.str() +
                 ") to the engine's (HWC)");
        have_flatten_order_ = false;
    } else {
        l.weight = std::move(weight);
    }
    set_shape(n, Shape{int(out), 1, 1}, true);
}

void Importer::gemm(const onnx::Node &n) {
    if (!flat_) node_error(n, "its input " + shape_.str() + " is not flat; a Flatten must come before it");
    if (attr_int(n, "transA", 0) != 0) node_error(n, "transA 1 is not supported");
    if (attr_float(n, "alpha", 1.0f) != 1.0f || attr_float(n, "beta", 1.0f) != 1.0f)
        node_error(n, "alpha " + float_text(attr_float(n, "alpha", 1.0f)) + " and beta " +
                          float_text(attr_float(n, "beta", 1.0f)) + ": only 1 and 1 are supported");
    const int64_t trans_b = attr_int(n, "transB", 0);
    if (trans_b != 0 && trans_b != 1) node_error(n, "transB must be 0 or 1");
    const onnx::Tensor &b = constant(n, 1, onnx::kFloat);
    if (b.dims.size() != 2) node_error(n, "weight " + ints_text(b.dims) + " is not 2-D");
    const int64_t out = trans_b ? b.dims[0] : b.dims[1], in = trans_b ? b.dims[1] : b.dims[0];
    if (in != shape_.channels)
        node_error(n, "weight " + ints_text(b.dims) + (trans_b ? " (transB 1)" : "") + " takes " + std::to_string(in) +
                          " inputs, its input has " + std::to_string(shape_.channels));
    std::vector<float> w(b.floats.size());
    for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) w[size_t(o * in + i)] = trans_b ? b.floats[size_t(o * in + i)] : b.floats[size_t(i * out + o)];
    linear(n, std::move(w), out, in);
    if (has_input(n, 2)) bias(n, 2, &model_.layers.back(), false);
}

void Importer::matmul(const onnx::Node &n) {
    if (!flat_) node_error(n, "its input " + shape_.str() + " is not flat ([N, F]); a Flatten must come before it");
    const onnx::Tensor &b = constant(n, 1, onnx::kFloat);
    if (b.dims.size() != 2 || b.dims[0] != shape_.channels)
        node_error(n, "weight " + ints_text(b.dims) + " is not [" + std::to_string(shape_.channels) + ", outputs]");
    const int64_t in = b.dims[0], out = b.dims[1];
    std::vector<float> w(b.floats.size());
    for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) w[size_t(o * in + i)] = b.floats[size_t(i * out + o)];
    linear(n, std::move(w), out, in);
}

// Add of a constant right after a linear layer: its bias.
void Importer::add_bias(const onnx::Node &n) {
    if (foldable_ < 0 || model_.layers[size_t(foldable_)].type != LayerType::Linear)
        node_error(n, "an Add is supported only as the bias right after a MatMul or Gemm, or in the input "
                      "normalisation; " + std::string(kSupported));
    if (n.inputs.size() != 2) node_error(n, "needs two inputs");
    bias(n, n.inputs[0] == current_ ? 1 : 0, &model_.layers[size_t(foldable_)], true);
}

void Importer::clip(const onnx::Node &n) {
    // Opset 11 on: the bounds are optional inputs, often Constant nodes.
    auto bound = [&](size_t input) -> std::optional<float> {
        if (!has_input(n, input)) return std::nullopt;
        const onnx::Tensor &t = constant(n, input, onnx::kFloat);
        if (t.count() != 1) node_error(n, "bound " + quote(n.inputs[input]) + " is not one number");
        return t.floats[0];
    };
    const std::optional<float> lo = bound(1), hi = bound(2);
    if (!lo && !hi) {
        note("removed " + node_text(n) + " (no bounds: it does nothing)");
        return;
    }
    if (!lo || *lo != 0.0f)
        node_error(n, "Clip with min " + (lo ? float_text(*lo) : std::string("none")) +
                          " is not supported; only min 0 (= Relu, or ReLU6 and the like with a max)");
    if (hi && !(*hi > 0.0f && *hi <= limits::kMaxReluMax))
        node_error(n, "Clip with max " + float_text(*hi) + " is not supported; the max must be in (0, 1e6]");
    Layer &l = emit(n, LayerType::ReLU, "relu");
    if (hi) l.relu_max = *hi;
}

// Folded into the conv or linear layer before it, in double precision:
// w' = w * g / sqrt(var + eps), b' = (b - mean) * g / sqrt(var + eps) + beta.
void Importer::batch_norm(const onnx::Node &n) {
    if (foldable_ < 0)
        node_error(n, "there is no Conv, Gemm or MatMul right before it to fold it into; a batch norm on its own "
                      "is not supported");
    if (attr_int(n, "training_mode", 0) != 0) node_error(n, "training_mode 1 is not supported (export in eval mode)");
    Layer &l = model_.layers[size_t(foldable_)];
    const onnx::Tensor *p[4];
    for (size_t i = 0; i < 4; ++i) {
        p[i] = &constant(n, i + 1, onnx::kFloat);
        if (p[i]->count() != l.out_channels)
            node_error(n, "input " + quote(n.inputs[i + 1]) + " has " + std::to_string(p[i]->count()) + " values for " +
                              std::to_string(l.out_channels) + " channels");
    }
    const double eps = attr_float(n, "epsilon", 1e-5f);
    if (l.bias.empty()) l.bias.assign(size_t(l.out_channels), 0.0f);
    const size_t fan_in = size_t(l.fan_in());
    for (size_t o = 0; o < size_t(l.out_channels); ++o) {
        const double var = double(p[3]->floats[o]) + eps;
        if (!(var > 0)) node_error(n, "variance + epsilon is not positive for channel " + std::to_string(o));
        const double a = double(p[0]->floats[o]) / std::sqrt(var);
        for (size_t i = 0; i < fan_in; ++i) l.weight[o * fan_in + i] = float(double(l.weight[o * fan_in + i]) * a);
        l.bias[o] = float((double(l.bias[o]) - double(p[2]->floats[o])) * a + double(p[1]->floats[o]));
    }
    note("folded " + node_text(n) + " into " + l.name);
}

void Importer::pool(const onnx::Node &n, LayerType type) {
    if (flat_) node_error(n, "its input is not an image [N, C, H, W]");
    require_plain_window(n);
    if (!n.find("kernel_shape")) node_error(n, "has no kernel_shape");
    const int64_t k = square(n, "kernel_shape", attr_ints(n, "kernel_shape", {}));
    const int64_t stride = square(n, "strides", attr_ints(n, "strides", {1, 1}));
    int64_t padding = symmetric_pads(n, attr_ints(n, "pads", {0, 0, 0, 0}));
    if (attr_int(n, "storage_order", 0) != 0) node_error(n, "storage_order 1 is not supported");
    if (type == LayerType::AvgPool2d && pending_pad_ != 0) {
        if (padding != 0) node_error(n, "has pads of its own after a Pad");
        padding = pending_pad_; // zeros that the average counts, as the engine's padding does
        pending_pad_ = 0;
    } else if (type == LayerType::AvgPool2d && padding > 0 && attr_int(n, "count_include_pad", 0) == 0) {
        node_error(n, "count_include_pad 0 with padding is not supported: the engine's average pooling counts the "
                      "padded zeros (PyTorch's AvgPool2d(count_include_pad=True), the default)");
    }
    if (k < 1 || k > limits::kMaxKernel || stride < 1 || stride > limits::kMaxStride || 2 * padding > k)
        node_error(n, "window " + std::to_string(k) + ", stride " + std::to_string(stride) + ", padding " +
                          std::to_string(padding) + " out of the engine's range (padding at most half the window)");
    const int64_t span = int64_t(shape_.height) + 2 * padding;
    if (span < k || int64_t(shape_.width) + 2 * padding < k)
        node_error(n, "window " + std::to_string(k) + " is larger than its padded input " + shape_.str());
    if (attr_int(n, "ceil_mode", 0) != 0) {
        // Rounding up gives one more output where a last, partial window
        // starts inside the input; the engine rounds down.
        for (int64_t size : {int64_t(shape_.height), int64_t(shape_.width)}) {
            const int64_t floor_out = (size + 2 * padding - k) / stride + 1;
            int64_t ceil_out = (size + 2 * padding - k + stride - 1) / stride + 1;
            if ((ceil_out - 1) * stride >= size + padding) --ceil_out;
            if (ceil_out != floor_out) node_error(n, "ceil_mode 1 changes the output size here; the engine rounds down");
        }
    }
    const Shape in = shape_;
    Layer &l = emit(n, type, type == LayerType::MaxPool2d ? "maxpool" : "avgpool");
    l.kernel = int(k);
    l.stride = int(stride);
    l.padding = int(padding);
    set_shape(n, Shape{in.channels, int((in.height + 2 * padding - k) / stride + 1), int((in.width + 2 * padding - k) / stride + 1)},
              false);
}

void Importer::global_average_pool(const onnx::Node &n) {
    if (flat_) node_error(n, "its input is not an image [N, C, H, W]");
    const Shape in = shape_;
    emit(n, LayerType::GlobalAvgPool2d, "gap");
    set_shape(n, Shape{in.channels, 1, 1}, false);
}

// A constant zero Pad is kept for the AveragePool after it (torch writes
// AvgPool2d's padding so); all-zero pads are removed.
void Importer::pad(const onnx::Node &n) {
    if (flat_) node_error(n, "its input is not an image [N, C, H, W]");
    if (attr_string(n, "mode", "constant") != "constant") node_error(n, "only mode 'constant' is supported");
    const onnx::Tensor &pads = constant(n, 1, onnx::kInt64);
    if (has_input(n, 2)) {
        const onnx::Tensor &value = constant(n, 2, onnx::kFloat);
        if (value.count() != 1 || value.floats[0] != 0.0f) node_error(n, "only padding with zeros is supported");
    }
    if (has_input(n, 3)) node_error(n, "the axes input is not supported");
    const std::vector<int64_t> &p = pads.ints;
    if (p.size() != 8 || p[0] != 0 || p[1] != 0 || p[4] != 0 || p[5] != 0 || p[2] != p[3] || p[2] != p[6] ||
        p[2] != p[7] || p[2] < 0)
        node_error(n, "pads " + ints_text(p) + " are not the same on all four sides of the image");
    if (p[2] == 0) {
        note("removed " + node_text(n) + " (it pads nothing)");
        return;
    }
    pending_pad_ = p[2];
}

void Importer::flatten_layer(const onnx::Node &n) {
    flatten_shape_ = shape_;
    have_flatten_order_ = true;
    const int64_t size = shape_.size();
    emit(n, LayerType::Flatten, "flatten");
    set_shape(n, Shape{int(size), 1, 1}, true);
}

void Importer::flatten(const onnx::Node &n) {
    const int64_t rank = flat_ ? 2 : 4;
    int64_t axis = attr_int(n, "axis", 1);
    if (axis < 0) axis += rank;
    if (axis != 1) node_error(n, "axis " + std::to_string(attr_int(n, "axis", 1)) + " is not supported; only 1 ([N, -1])");
    if (!flat_) flatten_layer(n);
}

void Importer::reshape(const onnx::Node &n) {
    const onnx::Tensor &t = constant(n, 1, onnx::kInt64);
    const std::vector<int64_t> &s = t.ints;
    const int64_t size = shape_.size();
    const bool to_flat = s.size() == 2 && (((s[0] == 0 || s[0] == 1) && (s[1] == -1 || s[1] == size)) ||
                                           (s[0] == -1 && s[1] == size));
    if (!to_flat)
        node_error(n, "reshapes to " + ints_text(s) + "; only a flatten to [N, -1] is supported (input " + shape_.str() + ")");
    if (s[0] == 0 && attr_int(n, "allowzero", 0) != 0) node_error(n, "allowzero 1 with a 0 in the shape is not supported");
    if (!flat_) flatten_layer(n);
}

// Sub, Div, Mul or Add by a scalar before the first layer: the model's
// input x becomes x * scale_ + shift_, which the input spec expresses.
void Importer::normalisation(const onnx::Node &n) {
    const std::string &op = n.op_type;
    if (n.inputs.size() != 2) node_error(n, "needs two inputs");
    const size_t other = n.inputs[0] == current_ ? 1 : 0;
    if ((op == "Sub" || op == "Div") && other == 0)
        node_error(n, "computes constant " + std::string(op == "Sub" ? "-" : "/") + " input, which is not an input "
                      "normalisation");
    const onnx::Tensor &t = constant(n, other, onnx::kFloat);
    if (t.count() != 1 || t.dims.size() > (flat_ ? 2u : 4u))
        node_error(n, "normalises by a tensor of shape " + ints_text(t.dims) +
                          "; only one number for all channels folds into the input spec");
    const double v = t.floats[0];
    if (op == "Sub") shift_ -= v;
    else if (op == "Add") shift_ += v;
    else if (op == "Mul") scale_ *= v, shift_ *= v;
    else if (v == 0.0) node_error(n, "divides by zero");
    else scale_ /= v, shift_ /= v;
    normalisation_ops_.push_back(op + " " + float_text(v));
}

void Importer::final_softmax(const onnx::Node &n, bool last) {
    if (!last) node_error(n, "is supported only as the last node (removed, as the argmax is unchanged)");
    if (options_.task != Task::Classification)
        node_error(n, "a final softmax is removed only for classification (for regression it changes the outputs)");
    const int64_t rank = flat_ ? 2 : 4;
    int64_t axis = attr_int(n, "axis", opset_ >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    if (!flat_ || axis != 1) node_error(n, "only a softmax over the features of a flat [N, F] output is supported");
    note("removed the final " + node_text(n) + ": the engine outputs the scores before it; the argmax (the class) "
         "is the same");
}

// The user's mean and std describe how the graph's input x comes from raw
// values, x = (raw - m) / s; the graph's own normalisation then gives
// x * scale_ + shift_. Together: (raw - mean) / std with std = s / scale_
// and mean = m - shift_ * s / scale_.
void Importer::finish_input_spec() {
    const double m = options_.mean.value_or(0.0f), s = options_.std.value_or(1.0f);
    if (!(s > 0)) throw Error("ONNX import: --std must be positive");
    if (!(scale_ > 0))
        throw Error("ONNX import: the graph's input normalisation (" + std::to_string(normalisation_ops_.size()) +
                    " ops) multiplies by " + float_text(scale_) + "; the engine's input std must be positive");
    const double std_dev = s / scale_, mean = m - shift_ * s / scale_;
    model_.input.mean = float(mean);
    model_.input.std = float(std_dev);
    model_.input.min = options_.min.value_or(0.0f);
    model_.input.max = options_.max.value_or(1.0f);
    if (!std::isfinite(model_.input.mean) || !std::isfinite(model_.input.std) || !(model_.input.std > 0))
        throw Error("ONNX import: the input normalisation gives mean " + float_text(mean) + " and std " +
                    float_text(std_dev) + ", which the input spec cannot hold");
    std::string ops;
    for (const std::string &op : normalisation_ops_) ops += (ops.empty() ? "" : ", ") + op;
    if (!normalisation_ops_.empty())
        note("folded the graph's input normalisation (" + ops + ") into the input spec: mean " +
             float_text(model_.input.mean) + ", std " + float_text(model_.input.std));
    else if (!options_.mean && !options_.std)
        note("the graph has no input normalisation and no --mean/--std was given: raw inputs go in as they are "
             "(mean 0, std 1); for a model trained on normalised MNIST give --mean 0.1307 --std 0.3081");
}

std::string Importer::metadata() const {
    nlohmann::json layers = nlohmann::json::object();
    for (const auto &entry : sources_) layers[entry.first] = onnx::printable(entry.second);
    nlohmann::json notes = nlohmann::json::array();
    if (notes_)
        for (const std::string &line : *notes_) notes.push_back(line);
    const nlohmann::json j = {{"source", "onnx"},
                              {"producer", onnx::printable(proto_.producer_name + " " + proto_.producer_version)},
                              {"opset", opset_},
                              {"onnx_nodes", layers},
                              {"import_notes", notes}};
    return j.dump();
}

Model Importer::run() {
    if (!proto_.has_graph) throw Error("ONNX model: no graph");
    check_opset();
    collect_constants();
    find_input_and_output();
    index_nodes();
    model_.task = options_.task;
    model_.dataset = !options_.dataset.empty() ? options_.dataset
                                               : options_.task == Task::Classification ? "mnist" : "sine";
    model_.name = !options_.name.empty() ? options_.name : c_identifier(graph_.name);
    current_ = input_name_;
    while (const onnx::Node *n = next_on_chain(current_)) {
        check_chain_inputs(*n);
        import_node(*n, n->outputs[0] == output_name_);
        current_ = n->outputs[0];
    }
    if (pending_pad_ != 0) throw Error("ONNX model: the graph ends with a Pad");
    check_all_visited();
    if (model_.layers.empty()) throw Error("ONNX model: the graph has no layers the engine can run");
    const onnx::ValueInfo &out = graph_.outputs[0];
    int64_t declared = 1;
    bool known = out.has_shape && !out.dims.empty();
    for (size_t i = 1; known && i < out.dims.size(); ++i) {
        known = out.dims[i].known && out.dims[i].value >= 0 && out.dims[i].value <= limits::kMaxActivationElements;
        if (known) declared *= out.dims[i].value;
        if (declared > limits::kMaxActivationElements) known = false;
    }
    if (known && declared != shape_.size())
        throw Error("ONNX model: the graph declares an output of " + std::to_string(declared) +
                    " values, the imported layers give " + shape_.str());
    // Folding can overflow float (a batch norm's scale of 1e30): a model
    // file holds finite numbers only.
    for (const Layer &l : model_.layers)
        for (const std::vector<float> *v : {&l.weight, &l.bias})
            for (float x : *v)
                if (!std::isfinite(x))
                    throw Error("ONNX model: layer " + l.name + " has a weight that is not finite after folding");
    finish_input_spec();
    model_.metadata_json = metadata();
    validate_model(model_);
    return model_;
}

} // namespace

std::string c_identifier(const std::string &text) {
    std::string id;
    for (char c : text) {
        if (id.size() >= 64) break;
        id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    if (id.empty()) return "model";
    if (!std::isalpha(static_cast<unsigned char>(id[0]))) id = ("model_" + id).substr(0, 64);
    return id;
}

Model import_onnx(const std::string &bytes, const ImportOptions &options, std::vector<std::string> *notes) {
    const onnx::ModelProto proto = onnx::parse_onnx(bytes);
    std::vector<std::string> own_notes;
    Importer importer(proto, options, notes ? notes : &own_notes);
    return importer.run();
}

bool looks_like_onnx(const std::string &bytes) {
    // A ModelProto's top-level fields, each well formed, one of them the
    // graph (7): JSON's '{' is a group tag and fails at once.
    try {
        pb::MessageReader r(bytes, "model");
        pb::Field f;
        bool graph = false;
        while (r.next(&f)) graph = graph || (f.number == 7 && f.type == pb::WireType::Len);
        return graph;
    } catch (const Error &) {
        return false;
    }
}

Model load_model_file(const std::string &path, const ImportOptions &options, std::vector<std::string> *notes,
                      bool *was_onnx) {
    const std::string bytes = read_file(path, limits::kMaxFileBytes, "model file");
    const bool onnx_name = path.size() >= 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
    const bool onnx = onnx_name || looks_like_onnx(bytes);
    if (was_onnx) *was_onnx = onnx;
    if (!onnx) return parse_model(bytes, "model file '" + path + "'");
    ImportOptions o = options;
    if (o.name.empty()) {
        std::string base = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
        if (base.find('.') != std::string::npos) base = base.substr(0, base.find_last_of('.'));
        o.name = c_identifier(base);
    }
    try {
        return import_onnx(bytes, o, notes);
    } catch (const Error &e) {
        throw Error("'" + path + "': " + e.what());
    }
}

} // namespace dmc
