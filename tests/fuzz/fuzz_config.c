/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the config room (src/config): the input is the text of a properties
 * file. rn_props_parse() reads it as Java's Properties.load would; whatever it set is then
 * built into the broker's settings by rn_config_build(), which checks every known key's value
 * (numbers, lists, listeners, cleanup policies). Neither may crash, leak or read past the
 * input; errors are expected. Build with -Dfuzz=true (clang); see scripts/fuzz. */
#include <stdint.h>
#include <stdlib.h>

#include "config/config.h"
#include "runnel/runnel.h"
#include "util/logging.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        rn_log_set_level(RN_LOG_ERROR); /* unknown keys are warned about: too loud here */
        quiet = true;
    }
    runnel_config_t *props = runnel_config_new();
    if (props == NULL)
        return 0;
    char err[256];
    if (rn_props_parse(props, (const char *)data, size, err, sizeof(err)) == 0) {
        rn_config_t config;
        if (rn_config_build(props, &config, err, sizeof(err)) == 0)
            rn_config_deinit(&config);
    }
    runnel_config_free(props);
    return 0;
}
