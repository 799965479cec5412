# Copies the page (wasm/index.html, wasm/dmc.js) and the models (assets/*.json
# that are model files,
# with an index the page reads) into the served folder. Run after each link
# of dmc-app (cmake -DSRC=<repo> -DOUT=<www> -P package_assets.cmake).
file(MAKE_DIRECTORY "${OUT}/assets")
file(COPY "${SRC}/wasm/index.html" "${SRC}/wasm/dmc.js" DESTINATION "${OUT}")
file(GLOB models RELATIVE "${SRC}/assets" "${SRC}/assets/*.json")
list(SORT models)
set(index "[")
set(sep "")
foreach(m ${models})
  # Models only: assets/ also holds config files.
  file(READ "${SRC}/assets/${m}" head LIMIT 512)
  string(FIND "${head}" "\"dmc-model\"" is_model)
  if(is_model EQUAL -1)
    continue()
  endif()
  file(COPY "${SRC}/assets/${m}" DESTINATION "${OUT}/assets")
  string(APPEND index "${sep}\"${m}\"")
  set(sep ", ")
endforeach()
string(APPEND index "]\n")
file(WRITE "${OUT}/assets/index.json" "${index}")
