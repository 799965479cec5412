"""Deep MicroCompression Workbench, Python side.

Trains small networks in PyTorch and writes them as `dmc-model` JSON files
(see engine/MODEL_FORMAT.md), which the C++ engine compresses for
microcontrollers. Run `python3 -m dmc --help` for the commands.
"""

__version__ = "0.1.0"
