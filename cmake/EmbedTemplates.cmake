# Writes OUT: one `{"name.cuh", R"(...)"},` entry per file in FILES (a
# '|'-separated list), for lib/codegen/KernelLibrary.cpp to include inside
# an initializer list.
string(REPLACE "|" ";" files "${FILES}")
set(content "")
foreach(f ${files})
  get_filename_component(name ${f} NAME)
  file(READ ${f} text)
  string(APPEND content "{\"${name}\", R\"kiln_template(${text})kiln_template\"},\n")
endforeach()
file(WRITE ${OUT}.tmp "${content}")
file(RENAME ${OUT}.tmp ${OUT})
