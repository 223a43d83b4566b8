// SPDX-License-Identifier: Apache-2.0
package runnel.it;

/** One scenario: returns normally when everything it checked held, throws otherwise. */
@FunctionalInterface
interface Scenario {
    void run(Context ctx) throws Exception;
}
