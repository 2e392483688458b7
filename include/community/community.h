/*
 * community.h - the umbrella header of libcommunity. Includes every module
 * header and declares nothing itself.
 */
#ifndef COMMUNITY_COMMUNITY_H
#define COMMUNITY_COMMUNITY_H

#include <community/common.h>
#include <community/version.h>
#include <community/error.h>
#include <community/alloc.h>
#include <community/runtime.h>
#include <community/store.h>
#include <community/ops.h>
#include <community/vec.h>
#include <community/jobs.h>
#include <community/ai.h>
#include <community/mail.h>
#include <community/idem.h>
#include <community/payments.h>
#include <community/uploads.h>
#include <community/trace.h>

#endif /* COMMUNITY_COMMUNITY_H */
