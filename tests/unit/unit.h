/*
 * unit.h - what every cmocka unit test includes.
 *
 * Tests that read recorded IdP responses look for them under the directory
 * named by ROSTERSYNC_FIXTURES (default ../shared/fixtures next to the
 * repository) and skip with a message when it is absent.
 */
#ifndef ROSTERSYNC_UNIT_H
#define ROSTERSYNC_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif
