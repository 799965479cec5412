# nlohmann/json for the Emscripten build. Debian's own config file points
# the target at /usr/include, and handing em++ the host's /usr/include would
# mix glibc headers into the wasm build. This one copies just the nlohmann
# folder (header-only) into the build tree and points the target there.
# Used through -Dnlohmann_json_DIR=<this folder> (the Makefile's web build).
set(DMC_JSON_INCLUDE_DIR "/usr/include" CACHE PATH "Folder holding nlohmann/json.hpp")
if(NOT EXISTS "${DMC_JSON_INCLUDE_DIR}/nlohmann/json.hpp")
  set(nlohmann_json_FOUND FALSE)
  set(nlohmann_json_NOT_FOUND_MESSAGE "no nlohmann/json.hpp under DMC_JSON_INCLUDE_DIR=${DMC_JSON_INCLUDE_DIR}")
  return()
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
  file(COPY "${DMC_JSON_INCLUDE_DIR}/nlohmann" DESTINATION "${CMAKE_BINARY_DIR}/json-include")
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_BINARY_DIR}/json-include")
endif()
set(nlohmann_json_FOUND TRUE)
