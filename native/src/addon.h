// Shared between the addon's module functions (addon.cpp) and its TrainingSession class
// (addon-session.cpp).
#pragma once

#include "napi-util.h"

// Defines the TrainingSession class; instances are created by createSession() with an external
// holding the tr_session (the constructor refuses anything else).
napi_value session_class_define(napi_env env);
