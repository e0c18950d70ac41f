/* Numbers printed as JavaScript prints them, for stasis-front's output to be
 * the Node CLI's byte for byte (test/cli/fast-path.test.ts compares them). */
#include "front.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ECMAScript Number::toString: the shortest digits that round-trip, placed
 * as JavaScript places them. */
void js_number(double x, char *out, size_t cap) {
  if (x != x) { snprintf(out, cap, "NaN"); return; }
  if (x == 0) { snprintf(out, cap, "0"); return; }
  if (x > 1.7976931348623157e308 || x < -1.7976931348623157e308) { snprintf(out, cap, x < 0 ? "-Infinity" : "Infinity"); return; }
  char buf[40], digits[24];
  const char *sign = x < 0 ? "-" : "";
  double a = x < 0 ? -x : x;
  int p;
  for (p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*e", p - 1, a);
    if (strtod(buf, NULL) == a) break;
  }
  /* buf: d.ddde±XX */
  int k = 0;
  for (char *c = buf; *c && *c != 'e'; c++) if (*c != '.') digits[k++] = *c;
  while (k > 1 && digits[k - 1] == '0') k--;
  digits[k] = 0;
  int n = atoi(strchr(buf, 'e') + 1) + 1;   /* the decimal point after n digits */
  char num[48];
  size_t o = 0;
  if (k <= n && n <= 21) {
    memcpy(num, digits, (size_t)k), o = (size_t)k;
    for (int i = k; i < n; i++) num[o++] = '0';
  } else if (0 < n && n <= 21) {
    o = (size_t)sprintf(num, "%.*s.%s", n, digits, digits + n);
  } else if (-6 < n && n <= 0) {
    num[o++] = '0', num[o++] = '.';
    for (int i = 0; i < -n; i++) num[o++] = '0';
    o += (size_t)sprintf(num + o, "%s", digits);
  } else {
    o = (size_t)sprintf(num, "%c%s%se%c%d", digits[0], k > 1 ? "." : "", digits + 1, n - 1 < 0 ? '-' : '+', abs(n - 1));
  }
  num[o] = 0;
  snprintf(out, cap, "%s%s", sign, num);
}

void js_fixed2(double x, char *out, size_t cap) {
  if (!(x < 1e21)) { js_number(x, out, cap); return; }   /* as toFixed does */
  /* The exact decimal expansion, rounded half up at the second decimal. */
  char buf[400];
  snprintf(buf, sizeof buf, "%.60f", x);
  char *dot = strchr(buf, '.');
  int up = dot[3] >= '5';
  dot[3] = 0;
  for (char *c = dot + 2; up && c >= buf; c--) {
    if (*c == '.') continue;
    if (*c == '9') { *c = '0'; continue; }
    (*c)++;
    up = 0;
  }
  snprintf(out, cap, "%s%s", up ? "1" : "", buf);
}
