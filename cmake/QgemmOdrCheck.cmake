# Fails when one symbol with external linkage is defined in the objects of two different ISA
# object libraries (qgemm_<isa>). Such a symbol (typically a weak COMDAT copy of an inline
# function or template from a header shared by kernels of several ISAs) is kept once by the
# linker, so code compiled with one ISA's -m flags would also serve the other ISA's kernels:
# an AVX-512 copy called on an AVX2-only CPU, or an AVX2 copy running where the AVX-512 one was
# meant. Headers shared between ISAs give their definitions internal linkage instead.
#
# Usage (tests/CMakeLists.txt, test odr_isa_objects):
#   cmake -DNM=<nm> -P QgemmOdrCheck.cmake -- @<isa> <object>... [@<isa> <object>...]...
# NM: the toolchain's nm (CMAKE_NM: the cross nm in a cross build, since it only reads the
# objects). Every externally visible definition counts, weak ones included (W, V, u: the
# inline/template case), not only qgemm's own: a std:: template instantiated in two ISA objects
# is the same hazard.

cmake_policy(VERSION 3.20)

if(NOT NM)
  message(FATAL_ERROR "QgemmOdrCheck: NM (the toolchain's nm) not set")
endif()

# Arguments after "--": "@isa" starts an ISA's object list.
set(isa "")
set(isas "")
set(start OFF)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  set(arg "${CMAKE_ARGV${i}}")
  if(NOT start)
    if(arg STREQUAL "--")
      set(start ON)
    endif()
    continue()
  endif()
  if(arg MATCHES "^@(.+)$")
    set(isa "${CMAKE_MATCH_1}")
    list(APPEND isas "${isa}")
    set(objects_${isa} "")
  elseif(isa STREQUAL "")
    message(FATAL_ERROR "QgemmOdrCheck: object ${arg} before any @<isa>")
  else()
    list(APPEND objects_${isa} "${arg}")
  endif()
endforeach()
list(LENGTH isas n_isas)
if(n_isas LESS 2)
  message(STATUS "QgemmOdrCheck: ${n_isas} ISA object library (${isas}), nothing to compare")
  return()
endif()

# Symbol -> the ISAs defining it. Variables are keyed by the symbol's hash (names hold
# characters a variable name cannot).
set(symbols "")
foreach(isa IN LISTS isas)
  if(NOT objects_${isa})
    message(FATAL_ERROR "QgemmOdrCheck: no objects given for ${isa}")
  endif()
  execute_process(COMMAND ${NM} --defined-only --extern-only --demangle ${objects_${isa}}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "QgemmOdrCheck: ${NM} failed on the ${isa} objects (${rc}): ${err}")
  endif()
  # One list element per line: ';' escaped, and brackets (which would keep a list element from
  # splitting, "[4ul][2ul]" in a demangled name) swapped out until the name is stored.
  string(REPLACE ";" "\\;" out "${out}")
  string(REPLACE "[" "<qgemm-lb>" out "${out}")
  string(REPLACE "]" "<qgemm-rb>" out "${out}")
  string(REPLACE "\n" ";" lines "${out}")
  set(count 0)
  foreach(line IN LISTS lines)
    # "<value> <type> <name>"; global definitions: B C D G R S T V W (upper case) and the GNU
    # unique (u) and indirect (i) symbols.
    if(NOT line MATCHES "^[0-9a-fA-F]+ ([BCDGRSTVWiu]) (.+)$")
      continue()
    endif()
    set(sym "${CMAKE_MATCH_2}")
    # DW.ref.__gxx_personality_v0: a data word the compiler emits with exception tables, holding
    # the personality routine's address; every copy is the same bytes whatever the ISA flags.
    if(sym MATCHES "^DW\\.ref\\.")
      continue()
    endif()
    string(REPLACE "<qgemm-lb>" "[" sym "${sym}")
    string(REPLACE "<qgemm-rb>" "]" sym "${sym}")
    string(MD5 key "${sym}")
    if(NOT DEFINED sym_${key})
      set(sym_${key} "${sym}")
      set(isas_${key} "")
      list(APPEND symbols ${key})
    endif()
    if(NOT isa IN_LIST isas_${key})
      list(APPEND isas_${key} ${isa})
    endif()
    math(EXPR count "${count} + 1")
  endforeach()
  message(STATUS "QgemmOdrCheck: ${isa}: ${count} external definitions")
endforeach()

set(report "")
set(n_dup 0)
foreach(key IN LISTS symbols)
  list(LENGTH isas_${key} n)
  if(n GREATER 1)
    string(REPLACE ";" ", " where "${isas_${key}}")
    string(APPEND report "  ${sym_${key}}\n      defined in: ${where}\n")
    math(EXPR n_dup "${n_dup} + 1")
  endif()
endforeach()
if(n_dup GREATER 0)
  message(FATAL_ERROR "QgemmOdrCheck: ${n_dup} symbols with external linkage are defined in more "
    "than one ISA object library; the linker keeps one copy, compiled for one ISA, for all of "
    "them. Give our own internal linkage (an anonymous namespace in the shared header); a standard "
    "library instantiation (std::min in an unoptimised build) is only emitted where a call stays "
    "out of line:\n${report}")
endif()
string(REPLACE ";" " " list "${isas}")
message(STATUS "QgemmOdrCheck: no external symbol shared between the ISA objects (${list})")
