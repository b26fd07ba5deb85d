/* A webgpu.h call outside wgtrain's subset: the browser build's link must refuse it
 * (tests/web_build.test.sh). */
struct WGPUDeviceImpl;
extern void *wgpuDeviceCreateTexture(struct WGPUDeviceImpl *device, const void *descriptor);

__attribute__((export_name("probe"))) void *probe(struct WGPUDeviceImpl *d) { return wgpuDeviceCreateTexture(d, 0); }
